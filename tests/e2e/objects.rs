//! The `objects` producer through the real host, into the `file` consumer: a watched folder
//! (create, update, delete, a slow writer, the initial scan, include/exclude) and S3 bucket
//! notifications POSTed as AWS documents them, then config mistakes.

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::support::{eventually, free_port, plugin, Env, Running, SETTLE_LIMIT};

const OBJECTS: &str = "libevh_objects.so";
const FILE: &str = "libevh_file.so";

/// Time for inotify, the plugin and the host to pass a change on, where a test must wait
/// for nothing to happen (everything else waits for what it expects, [`events_reach`]).
pub(crate) const SETTLE: Duration = Duration::from_millis(400);

/// Waits until the `file` consumer has written `n` events to events.jsonl.
pub(crate) fn events_reach(env: &Env, n: usize) {
    eventually(SETTLE_LIMIT, &format!("{n} events in events.jsonl"), || env.lines_so_far("events.jsonl") >= n);
}

/// `evhost.toml`: the objects producer with `config` (an inline table's inside), writing
/// every event to events.jsonl.
pub(crate) fn objects(config: &str) -> Env {
    let env = Env::new();
    env.config(&format!(
        r#"
[[producer]]
name = "objects"
library = "{}"
config = {{ {config} }}

[[consumer]]
name = "out"
library = "{}"
config = {{ path = "events.jsonl" }}
"#,
        plugin(OBJECTS).display(),
        plugin(FILE).display()
    ));
    env
}

/// SIGTERM; the host must exit 0. Returns the events it wrote.
pub(crate) fn stop(env: &Env, running: Running) -> Vec<Value> {
    running.signal(Signal::SIGTERM);
    running.wait().expect_code(0);
    if env.path("events.jsonl").exists() {
        env.json_lines("events.jsonl")
    } else {
        Vec::new()
    }
}

/// Checks the attributes every object event has; returns (type suffix, subject, data).
pub(crate) fn object(event: &Value, bucket: &str) -> (String, String, Value) {
    assert_eq!(event["specversion"], "1.0", "{event}");
    assert_eq!(event["source"], json!(format!("/objects/{bucket}")), "{event}");
    assert_eq!(event["datacontenttype"], "application/json", "{event}");
    assert!(event["time"].as_str().is_some_and(|t| t.ends_with('Z')), "an RFC 3339 UTC time: {event}");
    let subject = event["subject"].as_str().unwrap_or_else(|| panic!("a subject: {event}")).to_owned();
    let id = event["id"].as_str().unwrap_or_else(|| panic!("an id: {event}"));
    assert!(id.starts_with(&format!("{bucket}/{subject}/")), "the id names the bucket and key: {event}");
    assert_eq!(event["data"]["bucket"], bucket, "{event}");
    assert_eq!(event["data"]["key"], json!(subject), "{event}");
    let ty = event["type"]
        .as_str()
        .and_then(|t| t.strip_prefix("dev.evhost.object."))
        .unwrap_or_else(|| panic!("an object type: {event}"));
    (ty.to_owned(), subject, event["data"].clone())
}

pub(crate) fn md5_hex_of_hello() -> &'static str {
    "5d41402abc4b2a76b9719d911017c592"
}

#[test]
fn create_update_and_delete_give_three_events_in_order() {
    let env = objects(r#"path = "bucket""#);
    std::fs::create_dir(env.path("bucket")).unwrap();
    let mut running = env.spawn();
    running.wait_for_line("watching");
    // A folder made while watching, and a file written into it at once.
    std::fs::create_dir(env.path("bucket/docs")).unwrap();
    std::fs::write(env.path("bucket/docs/a.txt"), "hello").unwrap();
    events_reach(&env, 1);
    std::fs::write(env.path("bucket/docs/a.txt"), "hello, world").unwrap();
    events_reach(&env, 2);
    std::fs::remove_file(env.path("bucket/docs/a.txt")).unwrap();
    events_reach(&env, 3);
    let events = stop(&env, running);
    let seen: Vec<_> = events.iter().map(|e| object(e, "bucket")).collect();
    assert_eq!(
        seen,
        [
            (
                "created".into(),
                "docs/a.txt".into(),
                json!({ "bucket": "bucket", "key": "docs/a.txt", "size": 5, "etag": md5_hex_of_hello() })
            ),
            (
                "updated".into(),
                "docs/a.txt".into(),
                json!({ "bucket": "bucket", "key": "docs/a.txt", "size": 12, "etag": "e4d7f1b4ed2e42d15898f4b27b019da4" })
            ),
            ("deleted".into(), "docs/a.txt".into(), json!({ "bucket": "bucket", "key": "docs/a.txt", "size": 0 })),
        ]
    );
    let ids: std::collections::BTreeSet<_> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "every event has its own id: {events:#?}");
}

#[test]
fn a_file_written_slowly_is_one_created_after_it_is_closed() {
    let env = objects(r#"path = "bucket", bucket = "media""#);
    std::fs::create_dir(env.path("bucket")).unwrap();
    let mut running = env.spawn();
    running.wait_for_line("watching");
    let chunk = vec![7u8; 64 * 1024];
    let mut file = std::fs::File::create(env.path("bucket/big.bin")).unwrap();
    for _ in 0..16 {
        file.write_all(&chunk).unwrap();
        file.flush().unwrap();
        std::thread::sleep(Duration::from_millis(40));
    }
    std::thread::sleep(SETTLE);
    assert!(
        !env.path("events.jsonl").exists() || env.json_lines("events.jsonl").is_empty(),
        "nothing before the writer closes the file"
    );
    drop(file);
    events_reach(&env, 1);
    let events = stop(&env, running);
    assert_eq!(events.len(), 1, "{events:#?}");
    let (ty, key, data) = object(&events[0], "media");
    assert_eq!((ty.as_str(), key.as_str(), &data["size"]), ("created", "big.bin", &json!(1 << 20)));
    assert_eq!(data["etag"].as_str().map(str::len), Some(32), "a hex MD5: {data}");
}

#[test]
fn renames_into_and_out_of_the_tree() {
    let env = objects(r#"path = "bucket""#);
    std::fs::create_dir(env.path("bucket")).unwrap();
    std::fs::write(env.path("staged.txt"), "hello").unwrap();
    let mut running = env.spawn();
    running.wait_for_line("watching");
    std::fs::rename(env.path("staged.txt"), env.path("bucket/in.txt")).unwrap();
    events_reach(&env, 1);
    std::fs::rename(env.path("bucket/in.txt"), env.path("out.txt")).unwrap();
    events_reach(&env, 2);
    let events = stop(&env, running);
    let seen: Vec<_> = events.iter().map(|e| object(e, "bucket")).map(|(ty, key, _)| (ty, key)).collect();
    assert_eq!(seen, [("created".into(), "in.txt".into()), ("deleted".into(), "in.txt".into())]);
}

#[test]
fn initial_scan_reports_what_is_there_through_the_filters() {
    let env = objects(r#"path = "bucket", initial_scan = true, exclude = ["*.tmp"], include = ["*.txt", "photos/**"]"#);
    for folder in ["bucket", "bucket/sub", "bucket/photos"] {
        std::fs::create_dir(env.path(folder)).unwrap();
    }
    for (file, text) in [
        ("a.txt", "hello"),
        ("sub/b.txt", "hello"),
        ("photos/c.jpg", "hello"),
        ("d.tmp", "x"),
        ("e.md", "x"),
        ("photos/f.tmp", "x"),
    ] {
        std::fs::write(env.path(&format!("bucket/{file}")), text).unwrap();
    }
    let mut running = env.spawn();
    running.wait_for_line("watching");
    events_reach(&env, 3);
    let events = stop(&env, running);
    let seen: Vec<_> = events.iter().map(|e| object(e, "bucket")).collect();
    let keys: Vec<_> = seen.iter().map(|(ty, key, _)| (ty.as_str(), key.as_str())).collect();
    assert_eq!(keys, [("created", "a.txt"), ("created", "photos/c.jpg"), ("created", "sub/b.txt")]);
    assert!(seen.iter().all(|(_, _, data)| data["size"] == 5 && data["etag"] == md5_hex_of_hello()), "{seen:#?}");
}

#[test]
fn without_initial_scan_existing_objects_are_known_but_not_reported() {
    let env = objects(r#"path = "bucket""#);
    std::fs::create_dir(env.path("bucket")).unwrap();
    std::fs::write(env.path("bucket/old.txt"), "hello").unwrap();
    let mut running = env.spawn();
    running.wait_for_line("watching");
    std::fs::write(env.path("bucket/old.txt"), "hello, world").unwrap();
    events_reach(&env, 1);
    let events = stop(&env, running);
    let seen: Vec<_> = events.iter().map(|e| object(e, "bucket")).map(|(ty, key, _)| (ty, key)).collect();
    assert_eq!(seen, [("updated".into(), "old.txt".into())], "an object that was there is updated, not created");
}

// S3 notifications.

/// A record of the S3 event message structure, as the AWS documentation publishes it.
pub(crate) fn aws_record(event_name: &str, key: &str, object_extra: Value) -> Value {
    let mut object = json!({ "key": key, "sequencer": "0055AED6DCD90281E5" });
    object.as_object_mut().unwrap().extend(object_extra.as_object().unwrap().clone());
    json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-west-2",
        "eventTime": "1970-01-01T00:00:00.000Z",
        "eventName": event_name,
        "userIdentity": { "principalId": "AIDAJDPLRKLG7UEXAMPLE" },
        "requestParameters": { "sourceIPAddress": "127.0.0.1" },
        "responseElements": { "x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD" },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "testRule",
            "bucket": { "name": "amzn-s3-demo-bucket", "ownerIdentity": { "principalId": "A3NL1KOZZKExample" }, "arn": "arn:aws:s3:::amzn-s3-demo-bucket" },
            "object": object
        }
    })
}

/// (status, body) of a request; ureq 2 reports 4xx and 5xx as errors, they are answers here.
fn answer(result: Result<ureq::Response, ureq::Error>) -> (u16, String) {
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("the request failed: {e}"),
    };
    (response.status(), response.into_string().expect("a readable body"))
}

#[test]
fn s3_notifications_map_to_the_same_events() {
    let port = free_port();
    let env = objects(&format!(r#"s3_listen = "127.0.0.1:{port}""#));
    let mut running = env.spawn();
    running.wait_for_line("listening for S3 event notifications");
    let url = format!("http://127.0.0.1:{port}/");
    let message = json!({ "Records": [
        aws_record("ObjectCreated:Put", "photos/my+summer%281%29.jpg", json!({ "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "versionId": "096fKKXTRTtl3on89fVO.nfljtsv6qko" })),
        aws_record("ObjectRemoved:Delete", "photos/my+summer%281%29.jpg", json!({ "versionId": "096fKKXTRTtl3on89fVO.nfljtsv6qko" })),
    ]});
    let (status, _) =
        answer(ureq::post(&url).set("Content-Type", "application/json").send_string(&message.to_string()));
    assert_eq!(status, 200);
    let (status, reason) = answer(ureq::post(&url).send_string("{ not json"));
    assert_eq!(status, 400, "{reason}");
    assert!(reason.contains("not an S3 event message"), "{reason}");
    assert_eq!(answer(ureq::get(&url).call()).0, 405);
    events_reach(&env, 2);
    let events = stop(&env, running);
    let seen: Vec<_> = events.iter().map(|e| object(e, "amzn-s3-demo-bucket")).collect();
    let key = "photos/my summer(1).jpg";
    assert_eq!(
        seen,
        [
            (
                "created".into(),
                key.into(),
                json!({ "bucket": "amzn-s3-demo-bucket", "key": key, "size": 1024, "etag": "d41d8cd98f00b204e9800998ecf8427e" })
            ),
            ("deleted".into(), key.into(), json!({ "bucket": "amzn-s3-demo-bucket", "key": key, "size": 0 })),
        ]
    );
    assert_eq!(events[0]["time"], "1970-01-01T00:00:00Z");
}

#[test]
fn both_modes_at_once() {
    let port = free_port();
    let env = objects(&format!(r#"path = "bucket", s3_listen = "127.0.0.1:{port}""#));
    std::fs::create_dir(env.path("bucket")).unwrap();
    let mut running = env.spawn();
    running.wait_for_line("watching");
    std::fs::write(env.path("bucket/local.txt"), "hello").unwrap();
    events_reach(&env, 1);
    let message = json!({ "Records": [aws_record("s3:ObjectCreated:Put", "remote.txt", json!({ "size": 5, "eTag": md5_hex_of_hello() }))] });
    assert_eq!(answer(ureq::post(&format!("http://127.0.0.1:{port}/")).send_string(&message.to_string())).0, 200);
    events_reach(&env, 2);
    let events = stop(&env, running);
    assert_eq!(object(&events[0], "bucket").1, "local.txt");
    assert_eq!(object(&events[1], "amzn-s3-demo-bucket").1, "remote.txt");
    assert_eq!(events.len(), 2, "{events:#?}");
}

// Config mistakes, through `evhost check`.

#[test]
fn config_mistakes() {
    insta::assert_snapshot!("objects_missing_path", objects(r#"path = "no-such-bucket""#).check_fails());
    insta::assert_snapshot!("objects_neither_mode", objects(r#"recursive = false"#).check_fails());
    let env = objects(r#"path = ".", include = ["photos/[a-z"]"#);
    insta::assert_snapshot!("objects_bad_glob", env.check_fails());
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let stderr = objects(&format!(r#"s3_listen = "127.0.0.1:{port}""#)).check_fails();
    insta::assert_snapshot!("objects_port_in_use", stderr.replace(&port.to_string(), "[PORT]"));
}
