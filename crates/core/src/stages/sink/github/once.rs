//! Never twice: what keeps runs at once — on one machine or several — from filing a problem
//! twice, and a retry from posting a comment twice (see the README, "Never twice, also with
//! runs at once"):
//!
//! 1. a *fresh look* at the listing right before a create ([`Looks::fresh_look`]);
//! 2. a *claim*: the label `gardener-claim-<problem id>`, which GitHub lets only one run create
//!    ([`Looks::claim`]);
//! 3. after a create, the older of two issues with one problem id wins ([`Looks::keep_older`]);
//! 4. a comment is posted only when no comment carries its marker ([`comment_once`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::api::{Api, ApiError, Issue};
use super::{Item, Settings, adopt, body, fingerprint_of};

/// The labelled issues updated while this run writes, as the fresh looks saw them. Each look
/// lists only what changed since the newest `updated_at` seen (GitHub's clock, so no skew),
/// so a run's looks cost one listing each, not the whole run's issues again.
struct Recent {
    since: String,
    issues: BTreeMap<u64, Issue>,
}

impl Recent {
    fn new() -> Recent {
        let ten_minutes_ago = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
            - 600;
        Recent {
            since: crate::model::time::format_rfc3339(ten_minutes_ago * 1_000_000_000),
            issues: BTreeMap::new(),
        }
    }

    async fn refresh(&mut self, api: &mut Api, label: &str) -> Result<(), ApiError> {
        for i in api.issues_updated_since(label, &self.since).await? {
            if let Some(u) = &i.updated_at
                && u.as_str() > self.since.as_str()
                && crate::model::time::parse_rfc3339(u).is_some()
            {
                self.since.clone_from(u);
            }
            self.issues.insert(i.number, i);
        }
        Ok(())
    }
}

/// The looks one run takes at GitHub before and after its creates.
pub struct Looks<'s> {
    recent: Recent,
    s: &'s Settings,
    min: u8,
}

impl<'s> Looks<'s> {
    pub fn new(s: &'s Settings, min: u8) -> Looks<'s> {
        Looks {
            recent: Recent::new(),
            s,
            min,
        }
    }

    /// The labelled issues updated lately, looked at again just before a create: an issue a
    /// concurrent run filed for this problem (its id, else one of its clusters, in the marker) is
    /// adopted, and the problem decided again with it.
    pub async fn fresh_look(
        &mut self,
        api: &mut Api,
        i: &mut Item<'_>,
        claimed: &mut BTreeSet<u64>,
    ) -> Result<(), ApiError> {
        let (s, min) = (self.s, self.min);
        self.recent.refresh(api, &s.cfg.label).await?;
        let recent: Vec<Issue> = self.recent.issues.values().cloned().collect();
        let rank = |x: &Issue| -> Option<(bool, bool, std::cmp::Reverse<u64>)> {
            let m = x.body.as_deref().and_then(body::parse_marker)?;
            let own = m.fingerprint == i.cluster.id;
            let member = m
                .clusters
                .unwrap_or_else(|| vec![m.fingerprint.clone()])
                .iter()
                .any(|c| i.ids.contains(c));
            (own || member).then_some((own, x.state == "open", std::cmp::Reverse(x.number)))
        };
        let found = recent
            .into_iter()
            .filter(|x| !claimed.contains(&x.number))
            .filter_map(|x| rank(&x).map(|r| (r, x)))
            .max_by_key(|(r, _)| *r)
            .map(|(_, x)| x);
        if let Some(issue) = found {
            adopt(api, i, &issue, claimed, min, &s.cfg.priority_label_prefix).await?;
        }
        Ok(())
    }

    /// Claims a problem before filing it, so that runs at once on different machines never file
    /// it twice: creating a label is the one conditional write GitHub has (a second create of
    /// the same name is refused). When another run holds the claim, its issue is waited for (up
    /// to 10 s) and adopted.
    pub async fn claim(
        &mut self,
        api: &mut Api,
        i: &mut Item<'_>,
        claimed: &mut BTreeSet<u64>,
    ) -> Result<Claim, ApiError> {
        let name = claim_label(&i.cluster.id);
        for _ in 0..3 {
            let now = crate::model::time::format_rfc3339(unix_secs() * 1_000_000_000);
            let description = format!(
                "Log Gardener (pid {}) is filing this problem since {now}",
                std::process::id()
            );
            match api.create_label(&name, &description).await {
                Ok(true) => {
                    // The holder before us may have filed and released in the moment since
                    // the fresh look: look once more, now that no one else can file.
                    self.fresh_look(api, i, claimed).await?;
                    if i.known.is_some() {
                        api.release_label(&name).await;
                        return Ok(Claim::Adopted);
                    }
                    return Ok(Claim::Ours(name));
                }
                Ok(false) => {}
                Err(
                    e @ ApiError::Status {
                        status: 404 | 410, ..
                    },
                ) => return Ok(Claim::Unclaimed(e.to_string())),
                Err(e) => return Err(e),
            }
            let since_claim = api
                .label(&name)
                .await?
                .and_then(|l| l.description)
                .and_then(|d| {
                    d.split_whitespace()
                        .last()
                        .and_then(crate::model::time::parse_rfc3339)
                })
                .map(|t| unix_secs() - t.div_euclid(1_000_000_000));
            // Absolute: a claim dated in the future (a clock ahead) is as suspect as an old one.
            if since_claim.is_none_or(|age| age.abs() > CLAIM_STALE_SECS) {
                // Left by a run that died (or already gone): take it over.
                api.delete_label(&name).await?;
                continue;
            }
            for _ in 0..20 {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                self.fresh_look(api, i, claimed).await?;
                if i.known.is_some() {
                    return Ok(Claim::Adopted);
                }
                if api.label(&name).await?.is_none() {
                    // Released without an issue (its create failed): claim it again.
                    break;
                }
            }
            if api.label(&name).await?.is_some() {
                return Ok(Claim::Busy);
            }
        }
        Ok(Claim::Busy)
    }

    /// After a create: an older open issue with the same problem id (a concurrent run filed it in
    /// the same moment) wins; ours is closed as its duplicate. Returns the older issue.
    pub async fn keep_older(
        &mut self,
        api: &mut Api,
        ours: &Issue,
        id: &str,
    ) -> Result<Option<Issue>, ApiError> {
        self.recent.refresh(api, &self.s.cfg.label).await?;
        let older = self
            .recent
            .issues
            .values()
            .filter(|x| x.number < ours.number && x.state == "open")
            .filter(|x| fingerprint_of(x).as_deref() == Some(id))
            .min_by_key(|x| x.number)
            .cloned();
        let Some(older) = older else {
            return Ok(None);
        };
        api.comment(
            ours.number,
            &format!(
                "Duplicate of #{}: another Log Gardener run filed this problem at the same moment.",
                older.number
            ),
        )
        .await?;
        api.update_issue(
            ours.number,
            &json!({"state": "closed", "state_reason": "not_planned"}),
        )
        .await?;
        Ok(Some(older))
    }
}

/// How claiming a problem before filing it went.
pub enum Claim {
    /// This run holds the claim label: it files the problem, then deletes the label.
    Ours(String),
    /// Another run filed the problem meanwhile; its issue was adopted.
    Adopted,
    /// Another run holds the claim and its issue did not show in time.
    Busy,
    /// Labels cannot be made (permissions): filed without a claim.
    Unclaimed(String),
}

/// A claim older than this was left by a run that died: it is taken over.
const CLAIM_STALE_SECS: i64 = 600;

/// The label that claims a problem while one run files it (at most 31 characters).
fn claim_label(id: &str) -> String {
    format!("gardener-claim-{id}")
}

fn unix_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Posts a comment unless one with the same marker (problem, count, last seen) is there
/// already: GitHub may have saved a comment it answered with an error, and a retry must not
/// post it twice.
pub async fn comment_once(api: &mut Api, number: u64, text: &str) -> Result<bool, ApiError> {
    let key = |m: body::Marker| (m.fingerprint, m.count, m.last_seen);
    if let Some(mine) = body::parse_marker(text).map(key) {
        let there = api.comments(number).await?.into_iter().any(|c| {
            c.body
                .as_deref()
                .and_then(body::parse_marker)
                .map(key)
                .is_some_and(|k| k == mine)
        });
        if there {
            return Ok(false);
        }
    }
    api.comment(number, text).await?;
    Ok(true)
}
