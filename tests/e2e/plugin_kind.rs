//! A plugin must be a producer or a consumer: a library whose plugin declares another kind
//! is refused when it loads, naming the plugin and the kinds there are.

use crate::fixture::{c_plugin, EVENTS_OK};
use crate::support::Env;

#[test]
fn a_plugin_of_an_unknown_kind_is_refused_at_load() {
    let env = Env::new();
    let code = format!("static evh_status create(const evh_create_args *args, void **out) {{ (void)args; *out = NULL; return EVH_OK; }}\n{EVENTS_OK}");
    let source = c_plugin("7", "odd", &[("on_create", "create"), ("on_events", "events")], &code);
    env.compile_library("libodd.so", &source);
    for command in ["check", "inspect"] {
        let args: &[&str] =
            if command == "check" { &["check", "-c", "evhost.toml"] } else { &["inspect", "libodd.so"] };
        env.config("[[consumer]]\nname = \"odd\"\nlibrary = \"libodd.so\"\n");
        let out = env.fails(args);
        assert!(
            out.stderr
                .contains("plugin 0 declares kind 7, which is neither EVH_KIND_PRODUCER (1) nor EVH_KIND_CONSUMER (2)"),
            "{command}: {}",
            out.stderr
        );
    }
}
