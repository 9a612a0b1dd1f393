//! A small blocking NATS client for the tests, speaking the text protocol over TCP: publish
//! (with headers), request/reply, and the JetStream API requests the tests need (create a
//! stream, stream and consumer info, get a stored message). It is the test's own view of
//! the server, independent of the plugin under test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next_inbox: u64,
}

/// A message that came back: its payload (JetStream API answers have no headers).
pub struct Reply {
    pub payload: Vec<u8>,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to nats-server");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("set a read timeout");
        let writer = stream.try_clone().expect("clone the socket");
        let mut client = Client { reader: BufReader::new(stream), writer, next_inbox: 0 };
        let info = client.line();
        assert!(info.starts_with("INFO "), "not a NATS server: {info}");
        client.send(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}\r\nPING\r\n",
        );
        loop {
            match client.line().as_str() {
                "PONG" => return client,
                "+OK" => {}
                other => panic!("NATS refused the connection: {other}"),
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to nats-server");
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read from nats-server");
        line.trim_end().to_owned()
    }

    /// Publishes `payload` with `headers` to `subject`, with an optional reply subject.
    pub fn publish(&mut self, subject: &str, reply: Option<&str>, headers: &[(&str, &str)], payload: &[u8]) {
        let reply = reply.map(|r| format!(" {r}")).unwrap_or_default();
        let mut frame = Vec::new();
        if headers.is_empty() {
            frame.extend(format!("PUB {subject}{reply} {}\r\n", payload.len()).bytes());
        } else {
            let mut block = String::from("NATS/1.0\r\n");
            for (name, value) in headers {
                block.push_str(&format!("{name}: {value}\r\n"));
            }
            block.push_str("\r\n");
            frame.extend(format!("HPUB {subject}{reply} {} {}\r\n", block.len(), block.len() + payload.len()).bytes());
            frame.extend(block.bytes());
        }
        frame.extend(payload);
        frame.extend(b"\r\n");
        self.send(&frame);
    }

    /// Sends a request and returns the reply.
    pub fn request(&mut self, subject: &str, headers: &[(&str, &str)], payload: &[u8]) -> Reply {
        self.next_inbox += 1;
        let inbox = format!("_INBOX.evhost-test.{}", self.next_inbox);
        let sid = self.next_inbox;
        self.send(format!("SUB {inbox} {sid}\r\n").as_bytes());
        self.publish(subject, Some(&inbox), headers, payload);
        loop {
            let line = self.line();
            let words: Vec<&str> = line.split(' ').collect();
            match words[0] {
                "PING" => self.send(b"PONG\r\n"),
                "+OK" | "PONG" | "INFO" => {}
                "MSG" => {
                    let size: usize = words.last().unwrap().parse().unwrap();
                    return Reply { payload: self.body(size) };
                }
                "HMSG" => {
                    let header_size: usize = words[words.len() - 2].parse().unwrap();
                    let total: usize = words.last().unwrap().parse().unwrap();
                    return Reply { payload: self.body(total).split_off(header_size) };
                }
                _ => panic!("unexpected from nats-server: {line}"),
            }
        }
    }

    fn body(&mut self, size: usize) -> Vec<u8> {
        let mut body = vec![0; size + 2];
        self.reader.read_exact(&mut body).expect("read a message body");
        body.truncate(size);
        body
    }

    /// A JetStream API request with a JSON body; panics on an API error.
    pub fn api(&mut self, subject: &str, body: Value) -> Value {
        let value = self.api_answer(subject, body);
        assert!(value.get("error").is_none(), "$JS.API.{subject}: {value}");
        value
    }

    /// A JetStream API request with a JSON body: the answer, an error included.
    fn api_answer(&mut self, subject: &str, body: Value) -> Value {
        let reply = self.request(&format!("$JS.API.{subject}"), &[], body.to_string().as_bytes());
        serde_json::from_slice(&reply.payload).expect("JetStream answers JSON")
    }

    /// Creates stream `name` capturing `subjects`.
    pub fn create_stream(&mut self, name: &str, subjects: &[&str]) {
        self.api(&format!("STREAM.CREATE.{name}"), json!({ "name": name, "subjects": subjects, "storage": "file" }));
    }

    /// How many messages stream `name` holds.
    pub fn stream_messages(&mut self, name: &str) -> u64 {
        self.api(&format!("STREAM.INFO.{name}"), json!({}))["state"]["messages"].as_u64().unwrap()
    }

    /// Consumer `durable`'s info (`num_ack_pending`, `num_redelivered`, `delivered`, ...),
    /// or the API's error (`{"error": ...}`) while the consumer does not exist yet.
    pub fn consumer_info(&mut self, stream: &str, durable: &str) -> Value {
        self.api_answer(&format!("CONSUMER.INFO.{stream}.{durable}"), json!({}))
    }

    /// Message `seq` of stream `name`: its subject, headers and payload.
    pub fn stored(&mut self, name: &str, seq: u64) -> (String, Vec<(String, String)>, Vec<u8>) {
        let message = &self.api(&format!("STREAM.MSG.GET.{name}"), json!({ "seq": seq }))["message"];
        let decode = |v: &Value| base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or("")).unwrap();
        let headers = header_lines(&String::from_utf8(decode(&message["hdrs"])).unwrap());
        (message["subject"].as_str().unwrap().to_owned(), headers, decode(&message["data"]))
    }

    /// Publishes to JetStream and waits for the PubAck; returns the stream sequence.
    pub fn js_publish(&mut self, subject: &str, headers: &[(&str, &str)], payload: &[u8]) -> u64 {
        let reply = self.request(subject, headers, payload);
        let ack: Value = serde_json::from_slice(&reply.payload).expect("a PubAck");
        ack["seq"].as_u64().unwrap_or_else(|| panic!("no PubAck for {subject}: {ack}"))
    }
}

/// `NATS/1.0\r\nName: value\r\n...` as (name, value) pairs.
fn header_lines(block: &str) -> Vec<(String, String)> {
    block
        .split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_owned(), value.trim().to_owned()))
        .collect()
}
