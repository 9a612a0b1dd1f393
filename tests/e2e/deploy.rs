//! The deployment files in examples/deploy/ are the host's real ones: the systemd unit
//! passes `systemd-analyze verify` (when the tool exists) and restarts on the host's exit
//! codes; the pod manifest's probes, port and paths are the admin endpoint's, and its
//! ConfigMap's config runs the real host, which answers those probes; the container build
//! ships the first-party plugins the Makefile builds, as a non-root user.

use std::path::PathBuf;
use std::process::Command;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::support::{eventually, free_port, root, Env, SETTLE_LIMIT};

fn deploy(file: &str) -> String {
    let path = root().join("examples/deploy").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn the_systemd_unit_verifies_and_restarts_on_runtime_failures_only() {
    let unit = deploy("evhost.service");
    assert!(unit.contains("\nRestart=on-failure\n"), "restarts after exit 1");
    assert!(unit.contains("\nRestartPreventExitStatus=2\n"), "not after a config error (exit 2)");
    assert!(unit.contains("\nType=notify\n"), "evhost says READY=1 through sd_notify");
    assert!(unit.contains("\nExecReload=/bin/kill -HUP $MAINPID\n"), "SIGHUP reloads the config");
    let exec = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("an ExecStart");
    assert_eq!(exec, "/usr/local/bin/evhost run --config /etc/evhost/evhost.toml --log-format json");
    // The arguments are the binary's: clap refuses unknown ones with exit 2.
    let env = Env::new();
    let args: Vec<&str> = exec.split_whitespace().skip(1).collect();
    let out = env.evhost(&args);
    assert!(out.stderr.contains("/etc/evhost/evhost.toml"), "the config is what fails here: {}", out.stderr);

    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("skipped: `systemd-analyze verify` (systemd-analyze is not installed)");
        return;
    };
    assert!(probe.status.success());
    // verify checks that ExecStart's binary exists: point it at the one built.
    let copy = env.path("evhost.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/evhost", env!("CARGO_BIN_EXE_evhost"))).unwrap();
    let out = Command::new("systemd-analyze").arg("verify").arg(&copy).output().expect("run systemd-analyze");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "systemd-analyze verify:\n{said}");
}

/// The ConfigMap's `evhost.toml`: the block under `evhost.toml: |`, dedented.
fn configmap_config(manifest: &str) -> String {
    let mut lines = manifest.lines().skip_while(|l| l.trim() != "evhost.toml: |").skip(1);
    let first = lines.next().expect("the config's first line");
    let indent = first.len() - first.trim_start().len();
    let mut text = format!("{}\n", &first[indent..]);
    for line in lines.take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() >= indent) {
        text += line.get(indent..).unwrap_or("");
        text.push('\n');
    }
    text
}

/// The manifest as JSON, through PyYAML when it is installed.
fn manifest_documents(manifest: &str) -> Option<Vec<Value>> {
    const SCRIPT: &str = "import json, sys, yaml\nprint(json.dumps(list(yaml.safe_load_all(sys.stdin))))\n";
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), manifest.as_bytes()).unwrap();
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains("No module named 'yaml'"), "the manifest is not valid YAML:\n{said}");
        eprintln!("skipped: parsing the manifest as YAML (`pip install pyyaml` to run it)");
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).expect("JSON from python"))
}

#[test]
fn the_pod_manifest_probes_the_real_endpoints() {
    let manifest = deploy("kubernetes.yaml");
    let toml = configmap_config(&manifest);
    let config =
        evhost::config::parse(&PathBuf::from("evhost.toml"), toml.clone()).expect("the ConfigMap's config is valid");
    let admin = config.admin.expect("the ConfigMap turns the admin endpoint on");
    let port = admin.listen.port();

    if let Some(documents) = manifest_documents(&manifest) {
        let pod = documents.iter().find(|d| d["kind"] == "Pod").expect("a Pod");
        let map = documents.iter().find(|d| d["kind"] == "ConfigMap").expect("a ConfigMap");
        assert_eq!(map["data"]["evhost.toml"].as_str(), Some(toml.as_str()), "the config read here is the ConfigMap's");
        let evhost = pod["spec"]["initContainers"].as_array().unwrap().iter().find(|c| c["name"] == "evhost").unwrap();
        assert_eq!(evhost["restartPolicy"], "Always", "a native sidecar");
        let ports = evhost["ports"].as_array().unwrap();
        let admin_port = ports.iter().find(|p| p["name"] == "admin").expect("a port named admin");
        assert_eq!(admin_port["containerPort"], u64::from(port));
        for (probe, path) in [("livenessProbe", "/livez"), ("readinessProbe", "/readyz"), ("startupProbe", "/livez")] {
            let get = &evhost[probe]["httpGet"];
            assert_eq!((get["path"].as_str(), get["port"].as_str()), (Some(path), Some("admin")), "{probe}");
        }
        let annotations = &pod["metadata"]["annotations"];
        assert_eq!(annotations["prometheus.io/port"], port.to_string());
        assert_eq!(annotations["prometheus.io/path"], "/metrics");
        let mounted = evhost["volumeMounts"].as_array().unwrap().iter().find(|m| m["name"] == "evhost-config").unwrap();
        // The reloader reads the same file and POSTs to the admin port.
        let reloader = pod["spec"]["containers"].as_array().unwrap().iter().find(|c| c["name"] == "evhost-reload");
        let reloader = reloader.expect("a container that reloads evhost when the ConfigMap changes");
        let script = reloader["command"][2].as_str().unwrap();
        let reload = format!("http://127.0.0.1:{port}{}", evhost::admin::routes::RELOAD);
        assert!(script.contains(&reload), "{script}");
        assert!(script.contains(&format!("config={}/evhost.toml", mounted["mountPath"].as_str().unwrap())));
        let its_mount = &reloader["volumeMounts"][0];
        assert_eq!((&its_mount["name"], &its_mount["mountPath"]), (&mounted["name"], &mounted["mountPath"]));
        let config_arg = evhost["args"].as_array().unwrap().iter().skip_while(|a| *a != "--config").nth(1).unwrap();
        assert!(
            config_arg.as_str().unwrap().starts_with(mounted["mountPath"].as_str().unwrap()),
            "--config is in the mounted ConfigMap"
        );
    }
    for path in ["/livez", "/readyz", "/metrics"] {
        assert!(evhost::admin::routes::PATHS.contains(&path));
        assert!(manifest.contains(&format!("path: {path}")), "{path} in the manifest");
    }

    // The ConfigMap's config, run with this checkout's libraries and free ports, answers the
    // manifest's probes.
    let env = Env::new();
    let (admin_port, api_port) = (free_port(), free_port());
    let plugins = format!("{}/", root().join("target/plugins").display());
    let local = toml
        .replace("/usr/local/lib/evhost/", &plugins)
        .replace(&format!(":{port}\""), &format!(":{admin_port}\""))
        .replace(":8080\"", &format!(":{api_port}\""));
    env.write("evhost.toml", &local);
    let mut host = env.spawn();
    host.wait_for_line("evhost is running");
    let get = |path: &str| ureq::get(&format!("http://127.0.0.1:{admin_port}{path}")).call().map(|r| r.status()).ok();
    eventually(SETTLE_LIMIT, "/readyz to answer 200", || get("/readyz") == Some(200));
    assert_eq!((get("/livez"), get("/metrics")), (Some(200), Some(200)));
    // The reloader's script, on this file and port (and quicker), reloads the host when the
    // file changes.
    let script = manifest_documents(&manifest).map(|documents| {
        let pod = documents.iter().find(|d| d["kind"] == "Pod").unwrap();
        let reloader = pod["spec"]["containers"].as_array().unwrap().iter().find(|c| c["name"] == "evhost-reload");
        reloader.unwrap()["command"][2].as_str().unwrap().to_string()
    });
    let tools = ["wget", "md5sum"].iter().all(|tool| Command::new(tool).arg("--version").output().is_ok());
    if let (Some(script), true) = (script, tools) {
        let watcher = script
            .replace("/etc/evhost/evhost.toml", &env.path("evhost.toml").display().to_string())
            .replace(&format!(":{port}/"), &format!(":{admin_port}/"))
            .replace("sleep 10", "sleep 0.1")
            .replacen("while", "echo watching\nwhile", 1);
        let mut reloader = Command::new("sh")
            .args(["-c", &watcher])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut watching = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(reloader.stdout.take().unwrap()), &mut watching)
            .unwrap();
        assert_eq!(watching, "watching\n");
        let extra = format!("\n[[consumer]]\nname = \"extra\"\nlibrary = \"{plugins}libevh_file.so\"\nconfig = {{ path = \"extra.jsonl\" }}\n");
        env.write("evhost.toml", &(local + &extra));
        host.wait_for_line("reloaded");
        let _ = reloader.kill();
        let _ = reloader.wait();
    } else {
        eprintln!("skipped: running the reloader's script (it needs PyYAML, wget and md5sum)");
    }
    host.signal(Signal::SIGTERM);
    host.wait().expect_code(0);
}

#[test]
fn the_container_ships_the_first_party_plugins_as_a_non_root_user() {
    let file = deploy("Containerfile");
    let makefile = std::fs::read_to_string(root().join("Makefile")).unwrap();
    let sources = makefile.lines().find_map(|l| l.strip_prefix("SOURCES := ")).expect("the Makefile's SOURCES");
    for plugin in sources.split_whitespace() {
        assert!(file.contains(&format!("-p evhost-plugin-{plugin}")), "builds {plugin}");
        assert!(file.contains(&format!("target/release/libevh_{plugin}.so")), "ships {plugin}");
    }
    assert_eq!(file.matches("\nFROM ").count(), 2, "multi-stage: a build stage and a runtime stage");
    assert!(file.contains("\nUSER 65532:65532\n"), "runs as a non-root user");
    assert!(file.contains("\nEXPOSE 9464\n") && deploy("kubernetes.yaml").contains("containerPort: 9464"));
}
