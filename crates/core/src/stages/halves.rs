//! Work the end of a run splits over two threads. After reading, the end of a run is one
//! thread's work unless a step splits itself; these machines have two cores, and each
//! per-cluster step (trends, priorities, problems) is a map over independent items.

/// Below this many items a second thread costs more than it saves.
const MIN_ITEMS: usize = 256;

/// `items.iter().map(f).collect()`, the first half mapped on a second thread. The result is in
/// `items`' order whatever thread finishes first.
pub fn map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    if items.len() < MIN_ITEMS {
        return items.iter().map(f).collect();
    }
    let (first, second) = items.split_at(items.len() / 2);
    let f = &f;
    std::thread::scope(|scope| {
        let early = scope.spawn(move || first.iter().map(f).collect::<Vec<U>>());
        let late: Vec<U> = second.iter().map(f).collect();
        let mut out = early
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        out.extend(late);
        out
    })
}

/// Runs `a` on a second thread and `b` on this one; returns both results.
pub fn join<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|scope| {
        let a = scope.spawn(a);
        let b = b();
        let a = a
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (a, b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_the_order_of_the_items_below_and_above_the_threshold() {
        for n in [0, 1, MIN_ITEMS - 1, MIN_ITEMS, 1001] {
            let items: Vec<u64> = (0..n as u64).collect();
            let threads = std::sync::Mutex::new(std::collections::HashSet::new());
            let out = map(&items, |x| {
                threads.lock().unwrap().insert(std::thread::current().id());
                x * 3
            });
            assert_eq!(out, items.iter().map(|x| x * 3).collect::<Vec<_>>());
            let used = threads.into_inner().unwrap().len();
            assert_eq!(used, if n >= MIN_ITEMS { 2 } else { n.min(1) }, "{n} items");
        }
    }

    #[test]
    fn join_returns_both_results_and_runs_the_first_elsewhere() {
        let here = std::thread::current().id();
        let (a, b) = join(
            || std::thread::current().id(),
            || std::thread::current().id(),
        );
        assert_ne!(a, here);
        assert_eq!(b, here);
    }

    #[test]
    #[should_panic(expected = "boom")]
    fn a_panic_on_the_second_thread_reaches_the_caller() {
        let items: Vec<u32> = (0..1000).collect();
        map(&items, |&x| if x == 0 { panic!("boom") } else { x });
    }
}
