//! The `webhook` consumer over `https://`: a real rustls server started by the test, with a
//! CA and a certificate for 127.0.0.1 that `openssl` makes at test time; delivery with
//! `ca_file`, an untrusted certificate retried then dead-lettered with the TLS failure
//! named, and the mistakes a `ca_file` can have.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;

use crate::file_and_webhook::{check_fails, dead_letters, fast_retry, payload, webhook, WEBHOOK};
use crate::support::drained;

/// A test CA and a server certificate it issued for IP 127.0.0.1, as PEM text.
struct Certificates {
    ca: String,
    server_chain: String,
    server_key: String,
}

/// Runs `openssl ARGS` in `dir`; the test fails with its stderr if it does.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl (is it installed?)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn certificates() -> Certificates {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let ca = ["req", "-x509", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=evhost test CA"];
    let ca_ext = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"];
    openssl(dir.path(), &[&ca[..], &ec, &ca_ext].concat());
    openssl(
        dir.path(),
        &[&["req", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"][..], &ec].concat(),
    );
    std::fs::write(
        dir.path().join("server.ext"),
        "subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    openssl(
        dir.path(),
        &["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "1", "-days", "2"]
            .into_iter()
            .chain(["-extfile", "server.ext", "-out", "server.pem"])
            .collect::<Vec<_>>(),
    );
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    Certificates {
        ca: read("ca.pem"),
        server_chain: read("server.pem") + &read("ca.pem"),
        server_key: read("server.key"),
    }
}

/// One POST the TLS server received: its `ce-id` header and body.
type Received = (String, Vec<u8>);

/// A real HTTPS/1.1 server on 127.0.0.1:0 (rustls, a thread per connection, keep-alive)
/// that answers every request 200 and records it.
struct TlsServer {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TlsServer {
    fn start(certificates: &Certificates) -> TlsServer {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(certificates.server_chain.as_bytes())
            .collect::<Result<_, _>>()
            .expect("the server's chain");
        let key = PrivateKeyDer::from_pem_slice(certificates.server_key.as_bytes()).expect("the server's key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("a server config");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test HTTPS server");
        let addr = listener.local_addr().unwrap();
        let (received, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (log, stopping) = (received.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for tcp in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let (Ok(tcp), config, log) = (tcp, config.clone(), log.clone()) else { continue };
                std::thread::spawn(move || serve(tcp, config, &log));
            }
        });
        TlsServer { addr, received, stop, thread: Some(thread) }
    }

    fn url(&self) -> String {
        format!("https://{}/hook", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocked accept, which then sees `stop`.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers the requests of one connection until the client closes it or the TLS handshake
/// fails (the client refused the certificate).
fn serve(tcp: TcpStream, config: Arc<rustls::ServerConfig>, log: &Mutex<Vec<Received>>) {
    let Ok(connection) = rustls::ServerConnection::new(config) else { return };
    let mut stream = BufReader::new(rustls::StreamOwned::new(connection, tcp));
    loop {
        let (mut id, mut length) = (String::new(), 0usize);
        let mut line = String::new();
        // The request line, then headers up to the empty line.
        for first in [true].into_iter().chain(std::iter::repeat(false)) {
            line.clear();
            match stream.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if first {
                assert!(line.starts_with("POST /hook "), "{line}");
                continue;
            }
            let (name, value) = line.split_once(':').expect("a header line");
            match name.to_ascii_lowercase().as_str() {
                "ce-id" => id = value.trim().to_owned(),
                "content-length" => length = value.trim().parse().expect("a length"),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        if stream.read_exact(&mut body).is_err() {
            return;
        }
        log.lock().unwrap().push((id, body));
        let answer = stream.get_mut();
        if answer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").and_then(|()| answer.flush()).is_err() {
            return;
        }
    }
}

#[test]
fn webhook_https_with_a_ca_file_delivers_every_event() {
    let certificates = certificates();
    let server = TlsServer::start(&certificates);
    let env = webhook(20, &server.url(), json!({ "ca_file": "tls/ca.pem" }), fast_retry());
    std::fs::create_dir(env.path("tls")).unwrap();
    // Relative to the config file's folder, not the host's working directory.
    env.write("tls/ca.pem", &certificates.ca);
    let out = env.run();
    out.expect_code(0);
    let expected: Vec<Received> = (0..20).map(|id| (id.to_string(), payload(id))).collect();
    assert_eq!(server.received(), expected);
    assert_eq!(drained(&out.stderr, "out", "retries"), 0, "{}", out.stderr);
    assert!(!env.path("dlq.jsonl").exists(), "nothing dead-lettered:\n{}", out.stderr);
}

#[test]
fn webhook_https_to_an_untrusted_certificate_retries_then_dead_letters_naming_tls() {
    let server = TlsServer::start(&certificates());
    // No `ca_file`: the webpki roots, which do not include the test's CA.
    let env = webhook(5, &server.url(), json!({}), json!({ "attempts": 2, "backoff": "1ms..2ms" }));
    let out = env.run();
    out.expect_code(0);
    assert_eq!(server.received(), [], "no request got past the handshake");
    let letters = dead_letters(&env);
    assert_eq!(letters.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    let port = server.addr.port().to_string();
    insta::assert_snapshot!("webhook_untrusted_certificate", letters[0].1.replace(&port, "[PORT]"));
}

#[test]
fn webhook_ca_file_mistakes() {
    let url = "url = \"https://127.0.0.1:9/\"";
    insta::assert_snapshot!(
        "webhook_ca_file_missing",
        check_fails(WEBHOOK, &format!("config = {{ {url}, ca_file = \"certs/ca.pem\" }}"))
    );
    // A file that exists but holds no certificate: the config file itself (relative, so the
    // snapshot does not depend on where the checkout is).
    insta::assert_snapshot!(
        "webhook_ca_file_not_pem",
        check_fails(WEBHOOK, &format!("config = {{ {url}, ca_file = \"evhost.toml\" }}"))
    );
    insta::assert_snapshot!(
        "webhook_ca_file_for_http",
        check_fails(WEBHOOK, "config = { url = \"http://127.0.0.1:9/\", ca_file = \"ca.pem\" }")
    );
}
