//! Matching a reply's items to the UserIDs asked, by UserID and never by position.
//!
//! Pure: the same for both APIs. Every UserID asked gets exactly one result, in the order
//! asked: its item's state when the reply holds it once (or several times alike), else
//! unknown with why (`missing`, `bad_status` for conflicting or undefined items, or the
//! item's code). Items for UserIDs not asked are counted and ignored.

use std::collections::{HashMap, HashSet};

use super::api::Api;
use super::error::code_label;
use super::wire::{ItemOutcome, ItemResult};
use super::Unknown;

/// A reply matched to its batch.
#[derive(Debug)]
pub struct Matched<T> {
    /// Each UserID of the batch with its result, in batch order.
    pub results: Vec<(String, Result<T, Unknown>)>,
    /// Items for UserIDs that were not asked for.
    pub unrequested: usize,
}

/// Matches the items of a reply of `api` to `batch`.
pub fn match_items<T: Clone + PartialEq>(
    api: Api,
    batch: &[&str],
    items: Vec<ItemResult<T>>,
) -> Matched<T> {
    // `None` marks a UserID that came back twice with different results.
    let mut by_id: HashMap<String, Option<ItemOutcome<T>>> = HashMap::with_capacity(items.len());
    let requested: HashSet<&str> = batch.iter().copied().collect();
    let mut unrequested = 0usize;
    for item in items {
        if !requested.contains(item.user_id.as_str()) {
            unrequested += 1;
            continue;
        }
        by_id
            .entry(item.user_id)
            .and_modify(|seen| {
                if !seen
                    .as_ref()
                    .is_some_and(|seen| same_result(seen, &item.outcome))
                {
                    *seen = None;
                }
            })
            .or_insert_with(|| Some(item.outcome.clone()));
    }
    let results = batch
        .iter()
        .map(|id| {
            let result = match by_id.remove(*id) {
                Some(Some(ItemOutcome::Status(status))) => Ok(status),
                Some(Some(ItemOutcome::Failed { code, info })) => Err(Unknown {
                    code: code.map_or_else(|| "bad_status".to_owned(), code_label),
                    message: match code {
                        Some(code) => {
                            let field = match api {
                                Api::AccountCheck => "ResultCode",
                                Api::QueryOnlineStatus => "ErrorList code",
                            };
                            if info.is_empty() {
                                format!("{field} {code}")
                            } else {
                                format!("{field} {code}: {info}")
                            }
                        }
                        None => "item without a result code".to_owned(),
                    },
                    in_reply: true,
                }),
                Some(Some(ItemOutcome::BadStatus(status))) => Err(Unknown {
                    code: "bad_status".to_owned(),
                    message: match status {
                        Some(status) => format!("unknown {} {status:?}", api.status_field()),
                        None => format!("no {} in the item", api.status_field()),
                    },
                    in_reply: true,
                }),
                Some(None) => Err(Unknown {
                    code: "bad_status".to_owned(),
                    message: "the reply has conflicting items for this UserID".to_owned(),
                    in_reply: true,
                }),
                None => Err(Unknown {
                    code: "missing".to_owned(),
                    message: "UserID missing from the reply".to_owned(),
                    in_reply: true,
                }),
            };
            ((*id).to_owned(), result)
        })
        .collect();
    Matched {
        results,
        unrequested,
    }
}

/// Whether two items for one UserID say the same; failed items agree on their code alone.
fn same_result<T: PartialEq>(a: &ItemOutcome<T>, b: &ItemOutcome<T>) -> bool {
    match (a, b) {
        (ItemOutcome::Failed { code: x, .. }, ItemOutcome::Failed { code: y, .. }) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::tim::AccountStatus;

    /// What the reply does with one UserID asked.
    #[derive(Debug, Clone, Copy)]
    enum Fate {
        /// One item with the true state.
        Once,
        /// Several items, all with the true state.
        Repeated,
        /// Two items that disagree.
        Conflicting,
        /// No item.
        Missing,
    }

    fn fate() -> impl Strategy<Value = Fate> {
        prop_oneof![
            4 => Just(Fate::Once),
            1 => Just(Fate::Repeated),
            1 => Just(Fate::Conflicting),
            1 => Just(Fate::Missing),
        ]
    }

    fn item(user_id: &str, imported: bool) -> ItemResult<AccountStatus> {
        ItemResult {
            user_id: user_id.to_owned(),
            outcome: ItemOutcome::Status(if imported {
                AccountStatus::Imported
            } else {
                AccountStatus::NotImported
            }),
        }
    }

    proptest! {
        /// Whatever the order, repeats, conflicts, gaps and strangers in a reply, each
        /// UserID asked gets its own true state or unknown, never another's, in the order
        /// asked.
        #[test]
        fn results_follow_user_ids_not_positions(
            asked in proptest::collection::vec((any::<bool>(), fate()), 1..60),
            strangers in proptest::collection::vec(any::<bool>(), 0..5),
            order in any::<u64>(),
        ) {
            let ids: Vec<String> = (0..asked.len()).map(|i| format!("u{i}")).collect();
            let mut items = Vec::new();
            for (id, (imported, fate)) in ids.iter().zip(&asked) {
                match fate {
                    Fate::Once => items.push(item(id, *imported)),
                    Fate::Repeated => {
                        items.push(item(id, *imported));
                        items.push(item(id, *imported));
                    }
                    Fate::Conflicting => {
                        items.push(item(id, *imported));
                        items.push(item(id, !*imported));
                    }
                    Fate::Missing => {}
                }
            }
            for (i, imported) in strangers.iter().enumerate() {
                items.push(item(&format!("stranger{i}"), *imported));
            }
            // A deterministic shuffle from `order`.
            let mut seed = order;
            for i in (1..items.len()).rev() {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                items.swap(i, (seed >> 33) as usize % (i + 1));
            }
            let batch: Vec<&str> = ids.iter().map(String::as_str).collect();
            let Matched { results, unrequested } = match_items(Api::AccountCheck, &batch, items);
            prop_assert_eq!(unrequested, strangers.len());
            prop_assert_eq!(results.len(), ids.len());
            for ((id, result), (asked_id, (imported, fate))) in results.iter().zip(ids.iter().zip(&asked)) {
                prop_assert_eq!(id, asked_id);
                let truth = if *imported { AccountStatus::Imported } else { AccountStatus::NotImported };
                match fate {
                    Fate::Once | Fate::Repeated => prop_assert_eq!(result.as_ref().ok(), Some(&truth)),
                    Fate::Conflicting => prop_assert_eq!(result.as_ref().map_err(|e| e.code.as_str()), Err("bad_status")),
                    Fate::Missing => prop_assert_eq!(result.as_ref().map_err(|e| e.code.as_str()), Err("missing")),
                }
            }
        }
    }
}
