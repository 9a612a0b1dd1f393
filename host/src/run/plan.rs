//! What a reload changes: each entry of the new config is added, kept or replaced, matched
//! to the running instance of the same kind and name; running instances the new config
//! does not name are removed. An instance is replaced when any field of its entry differs
//! (its plugin's `config` included), when its library's file was replaced since it was
//! loaded, or when it failed.

use serde::Serialize;

use super::set::Set;
use crate::admin::{State, Status};
use crate::config::live::same_entry;
use crate::config::{Config, InstanceConfig};
use crate::hosted::Hosted;
use crate::loader::FileId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    Add,
    /// The running instance at this position of its list stays.
    Keep(usize),
    /// The running instance at this position gives way to a new one.
    Replace(usize),
}

pub(super) struct Plan {
    /// The new config's entries, in its order.
    pub consumers: Vec<(InstanceConfig, Change)>,
    pub producers: Vec<(InstanceConfig, Change)>,
    /// Positions of the running instances the new config does not have.
    pub removed_consumers: Vec<usize>,
    pub removed_producers: Vec<usize>,
}

/// What a reload did, by instance name; `POST /v1/reload` answers it.
#[derive(Debug, Default, Serialize)]
pub(super) struct Summary {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub replaced: Vec<String>,
    pub unchanged: Vec<String>,
}

impl Plan {
    pub fn new(set: &Set, status: &Status, config: &Config) -> Plan {
        let failed = |key| status.state(key) == Some(State::Failed);
        let consumers: Vec<_> = set.consumers.iter().map(|c| (&c.entry, &*c.instance, failed(c.key))).collect();
        let producers: Vec<_> = set.producers.iter().map(|p| (&p.entry, &*p.instance, failed(p.key))).collect();
        let (consumers, removed_consumers) = classify(&consumers, &config.consumers);
        let (producers, removed_producers) = classify(&producers, &config.producers);
        Plan { consumers, producers, removed_consumers, removed_producers }
    }

    pub fn summary(&self, set: &Set) -> Summary {
        let mut summary = Summary::default();
        for (entry, change) in self.consumers.iter().chain(&self.producers) {
            let list = match change {
                Change::Add => &mut summary.added,
                Change::Keep(_) => &mut summary.unchanged,
                Change::Replace(_) => &mut summary.replaced,
            };
            list.push(entry.name.clone());
        }
        let consumers = self.removed_consumers.iter().map(|&at| &set.consumers[at].entry);
        let producers = self.removed_producers.iter().map(|&at| &set.producers[at].entry);
        summary.removed = consumers.chain(producers).map(|e| e.name.clone()).collect();
        summary
    }
}

/// Matches `new` entries to the `running` ones (entry, instance, failed) by name.
fn classify(
    running: &[(&InstanceConfig, &Hosted, bool)],
    new: &[InstanceConfig],
) -> (Vec<(InstanceConfig, Change)>, Vec<usize>) {
    let changes = new
        .iter()
        .map(|entry| {
            let change = match running.iter().position(|(old, _, _)| old.name == entry.name) {
                None => Change::Add,
                Some(at) => {
                    let (old, instance, failed) = running[at];
                    // A file that is gone leaves the loaded version as the one there is.
                    let file = FileId::of(&entry.library);
                    let replaced_file = file.is_some() && file != instance.library_file();
                    if same_entry(old, entry) && !replaced_file && !failed {
                        Change::Keep(at)
                    } else {
                        Change::Replace(at)
                    }
                }
            };
            (entry.clone(), change)
        })
        .collect();
    let removed = (0..running.len()).filter(|&at| !new.iter().any(|e| e.name == running[at].0.name)).collect();
    (changes, removed)
}
