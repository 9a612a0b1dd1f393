//! A reload (SIGHUP, `POST /v1/reload`): the config file is read again and checked as fully
//! as `evhost check` does (parse, what may not change live, load, handshake, `on_create` of
//! every new or changed instance) before anything running changes, so a bad config changes
//! nothing. Then `apply` makes it the running set.

use super::plan::{Change, Plan, Summary};
use super::Host;
use crate::admin::{Refused, Reply};
use crate::config::{live, Config, InstanceConfig};
use crate::diagnostic::Diagnostic;
use crate::startup::{self, Created};

impl Host<'_> {
    /// Runs one reload and answers `reply` (a POST's), if any.
    pub(super) fn reload(&mut self, reply: Option<Reply>) {
        if let Some(notify) = &self.notify {
            notify.reloading();
        }
        let by = if reply.is_some() { "POST /v1/reload" } else { "SIGHUP" };
        tracing::info!("{by}: reloading {}", self.source.path.display());
        let outcome = self.try_reload();
        self.status.reloaded(outcome.is_ok());
        let outcome = match outcome {
            Ok(summary) => {
                tracing::info!(
                    added = summary.added.len(),
                    removed = summary.removed.len(),
                    replaced = summary.replaced.len(),
                    unchanged = summary.unchanged.len(),
                    "reloaded"
                );
                let mut json = serde_json::json!({ "reloaded": true });
                json.as_object_mut().expect("an object").extend(
                    serde_json::to_value(summary).expect("a summary is JSON").as_object().cloned().unwrap_or_default(),
                );
                Ok(json)
            }
            Err(diagnostic) => {
                tracing::error!("reload refused; the running instances are unchanged:\n{diagnostic}");
                Err(Refused { message: diagnostic.message.clone(), diagnostic: diagnostic.to_string() })
            }
        };
        if let Some(notify) = &self.notify {
            notify.ready();
        }
        if let Some(reply) = reply {
            let _ = reply.send(outcome);
        }
    }

    fn try_reload(&mut self) -> Result<Summary, Diagnostic> {
        let config = self.source.load()?;
        live::restart_needed(&self.config, &config)?;
        let plan = Plan::new(&self.set, &self.status, &config);
        let created = self.create(&plan, &config)?;
        for warning in config.warnings() {
            tracing::warn!("{warning}");
        }
        let summary = plan.summary(&self.set);
        self.apply(plan, created, config);
        Ok(summary)
    }

    /// Creates the instances the plan adds or replaces, consumers first; on an error or a
    /// shutdown signal, those created are destroyed and nothing else has changed.
    fn create(&mut self, plan: &Plan, config: &Config) -> Result<Created, Diagnostic> {
        let watch = &self.watch;
        let (consumers, producers) = (changed(&plan.consumers), changed(&plan.producers));
        let stopping = || watch.received().is_some();
        match startup::create_listed(
            &mut self.loader,
            consumers,
            producers,
            &self.log,
            config.max_event_bytes,
            &stopping,
        )? {
            Some(created) => Ok(created),
            None => Err(Diagnostic::new(format!(
                "{} received while the reload created instances; nothing was changed",
                watch.received().unwrap_or("a shutdown signal")
            ))),
        }
    }
}

/// The entries of `list` that a reload creates (added or replaced), None for those it keeps.
fn changed(list: &[(InstanceConfig, Change)]) -> Vec<Option<&InstanceConfig>> {
    list.iter().map(|(entry, change)| (!matches!(change, Change::Keep(_))).then_some(entry)).collect()
}
