//! `on_create` with good and bad configs: the one given, `{}`, every value of the wrong
//! type, an unknown key; and `on_destroy` right after it. A plugin may accept or refuse a
//! config; refusing is `EVH_ERR_CONFIG` with a message. What the kit can call garbage for
//! certain is a config whose every value is a table: accepting that is a failure. An
//! unknown key accepted is only a warning: the kit cannot tell a typo from a key the
//! plugin ignores on purpose.

use evhost_abi as evh;
use serde_json::{Map, Value};

use super::child::{Ctx, Verdict};
use crate::loader::{EmitTarget, HookError};
use crate::log::Log;

/// The key the kit adds to find out whether unknown keys are refused.
pub const UNKNOWN_KEY: &str = "evhost_test_plugin_unknown_key";

pub fn run(id: &str, ctx: &Ctx) -> Verdict {
    match id {
        "create-given" => match attempt(ctx, &ctx.config) {
            Ok(()) => Verdict::pass(None),
            Err(e) => Verdict::fail(format!("refused the config {}: {e}", ctx.config)),
        },
        // A pass without a note means an instance was made: the parent then uses `{}` for
        // the checks that need one when no config was given.
        "create-empty" => match attempt(ctx, "{}") {
            Ok(()) => Verdict::pass(None),
            Err(e) if well_refused(&e) => Verdict::pass(format!("refused: {e}")),
            Err(e) => Verdict::fail(badly_refused(&e)),
        },
        "create-wrong-types" => {
            let Some(wrong) = wrong_types(&ctx.config) else {
                return Verdict::skip("the config has no values to get wrong; give one with --config".into());
            };
            match attempt(ctx, &wrong) {
                Ok(()) => Verdict::fail(format!("answered EVH_OK to {wrong}, where every value is a table")),
                Err(e) if well_refused(&e) => Verdict::pass(format!("refused: {e}")),
                Err(e) => Verdict::fail(badly_refused(&e)),
            }
        }
        "create-unknown-key" => {
            let mut config = object(&ctx.config);
            config.insert(UNKNOWN_KEY.into(), Value::from(1));
            match attempt(ctx, &Value::Object(config).to_string()) {
                Ok(()) => Verdict::warn(format!(
                    "answered EVH_OK with `{UNKNOWN_KEY}` = 1 added: a misspelt key in a user's config would go unnoticed"
                )),
                Err(e) if well_refused(&e) => Verdict::pass(format!("refused: {e}")),
                Err(e) => Verdict::fail(badly_refused(&e)),
            }
        }
        "destroy-at-once" => match make(ctx, &ctx.config) {
            Ok(instance) => {
                ctx.destroy(instance);
                Verdict::pass(None)
            }
            Err(e) => Verdict::skip(format!("on_create refused the config: {e}")),
        },
        other => unreachable!("not a create check: {other}"),
    }
}

/// Creates an instance with `config` and destroys it at once.
fn attempt(ctx: &Ctx, config: &str) -> Result<(), HookError> {
    let instance = make(ctx, config)?;
    ctx.destroy(instance);
    Ok(())
}

/// An instance of either kind; a producer's events go to a log nobody reads.
fn make(ctx: &Ctx, config: &str) -> Result<crate::loader::Instance, HookError> {
    let target = (ctx.plugin.kind == crate::config::Kind::Producer).then(|| {
        let log = std::sync::Arc::new(Log::new(&crate::config::LogConfig::memory(1024, 64 << 20)));
        EmitTarget::log(log, 2 << 20)
    });
    ctx.create("test-plugin", config, target)
}

/// Refused as the ABI asks: a config error with a message.
fn well_refused(e: &HookError) -> bool {
    e.status == evh::EVH_ERR_CONFIG && e.message.is_some()
}

fn badly_refused(e: &HookError) -> String {
    if e.status == evh::EVH_ERR_CONFIG {
        "answered EVH_ERR_CONFIG without a message: the user cannot tell what to fix".into()
    } else {
        format!("answered {e}; a config it cannot use is EVH_ERR_CONFIG")
    }
}

fn object(config: &str) -> Map<String, Value> {
    match serde_json::from_str(config) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// The config with every value that is not a table replaced by a table, tables kept and
/// walked into; None when there is no such value.
fn wrong_types(config: &str) -> Option<String> {
    fn walk(map: &mut Map<String, Value>) -> usize {
        map.values_mut()
            .map(|value| match value {
                Value::Object(inner) => walk(inner),
                other => {
                    *other = serde_json::json!({ "evhost_test_plugin": "a table where a value belongs" });
                    1
                }
            })
            .sum()
    }
    let mut map = object(config);
    (walk(&mut map) > 0).then(|| Value::Object(map).to_string())
}

#[cfg(test)]
mod tests {
    use super::wrong_types;

    #[test]
    fn every_value_but_tables_becomes_a_table() {
        let wrong = wrong_types(r#"{"count": 3, "tls": {"ca_file": "ca.pem"}, "hosts": ["a"]}"#).expect("values");
        let table = r#"{"evhost_test_plugin":"a table where a value belongs"}"#;
        assert_eq!(wrong, format!(r#"{{"count":{table},"hosts":{table},"tls":{{"ca_file":{table}}}}}"#));
        assert_eq!(wrong_types("{}"), None);
        assert_eq!(wrong_types(r#"{"tls": {}}"#), None);
    }
}
