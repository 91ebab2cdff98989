//! A real (minimal) SMTP server for tests: it speaks the protocol lettre uses (EHLO, MAIL, RCPT,
//! DATA, QUIT, RSET, NOOP), keeps every delivered message, and lets a test wait for one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::wait::wait_for;

/// A delivered message.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The raw message (headers and body), dot-unstuffed.
    pub data: String,
}

impl Delivered {
    /// The first `http(s)://...` link in the message whose path contains `needle`.
    pub fn link_containing(&self, needle: &str) -> Option<String> {
        let text = self.decoded_body();
        text.split_whitespace()
            .map(|w| w.trim_matches(|c| c == '<' || c == '>'))
            .find(|w| w.starts_with("http") && w.contains(needle))
            .map(str::to_owned)
    }

    /// The body with quoted-printable soft line breaks and `=3D` undone.
    pub fn decoded_body(&self) -> String {
        self.data.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
    }
}

/// The running server.
#[derive(Clone)]
pub struct MailSink {
    port: u16,
    inbox: Arc<Mutex<Vec<Delivered>>>,
}

impl MailSink {
    /// Starts accepting SMTP connections on a free loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind SMTP port");
        let port = listener.local_addr().expect("address").port();
        let inbox: Arc<Mutex<Vec<Delivered>>> = Arc::default();
        let sink = Self { port, inbox: inbox.clone() };
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let inbox = inbox.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, inbox).await;
                });
            }
        });
        sink
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits (up to 10 s) for a message to `to` and returns the latest one.
    pub async fn wait_for(&self, to: &str) -> Delivered {
        self.wait_for_matching(to, |_| true).await
    }

    /// Waits (up to 10 s) for a message to `to` carrying a link that contains
    /// `needle` and returns its link. Mails are sent in the background, so an
    /// earlier mail (the sign-up verification) may still be the newest one.
    pub async fn wait_for_link(&self, to: &str, needle: &str) -> String {
        let mail = self.wait_for_matching(to, |m| m.link_containing(needle).is_some()).await;
        mail.link_containing(needle).expect("matched on this link")
    }

    async fn wait_for_matching(&self, to: &str, wanted: impl Fn(&Delivered) -> bool) -> Delivered {
        wait_for(&format!("a matching mail to {to}"), Duration::from_secs(10), async || self.messages_to(to).into_iter().rev().find(|m| wanted(m)))
            .await
    }

    /// Every message delivered to `to`, oldest first.
    pub fn messages_to(&self, to: &str) -> Vec<Delivered> {
        let inbox = self.inbox.lock().expect("inbox lock");
        inbox.iter().filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to))).cloned().collect()
    }
}

async fn serve(stream: tokio::net::TcpStream, inbox: Arc<Mutex<Vec<Delivered>>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 c4m-test-smtp ESMTP\r\n").await?;
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") {
            b"250-c4m-test-smtp\r\n250 8BITMIME\r\n"
        } else if command.starts_with("HELO") || command.starts_with("MAIL FROM") || command.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if command.starts_with("RSET") {
            to.clear();
            b"250 OK\r\n"
        } else if command.starts_with("RCPT TO") {
            let address = line.trim_end()[8..].trim().trim_start_matches('<').trim_end_matches('>').to_owned();
            to.push(address);
            b"250 OK\r\n"
        } else if command == "DATA" {
            write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            inbox.lock().expect("inbox lock").push(Delivered { to: std::mem::take(&mut to), data });
            b"250 OK: queued\r\n"
        } else if command.starts_with("QUIT") {
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 Command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}
