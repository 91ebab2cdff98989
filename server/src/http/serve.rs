//! The HTTP accept loop: what `axum::serve` does, plus the bounds a public server needs against
//! slow and greedy clients (issue: slowloris and friends).
//!
//! - **Header-read timeout** (`HTTP_HEADER_READ_TIMEOUT_SECONDS`): hyper's own, which needs a timer
//!   that `axum::serve` does not give it. It runs whenever a connection waits for a request head,
//!   so it also closes idle keep-alive connections and ones that trickle their headers.
//! - **Body deadline** (`HTTP_BODY_TIMEOUT_SECONDS`): a layer in [`crate::router`], answered 408.
//! - **Connections per client IP** (`HTTP_MAX_CONNECTIONS_PER_IP`): one more is answered 429 and
//!   closed at once, before hyper reads anything. Peers in `TRUSTED_PROXIES` are exempt (a reverse
//!   proxy carries many clients on its connections).
//! - **Graceful shutdown**: on the signal, listening stops and every connection is asked to finish
//!   its request in flight; [`crate::startup::run`] bounds the wait.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use code4me_shared::settings::ConnectionSettings;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

/// The answer to a connection over its IP's cap, written before anything is read.
const OVER_CAP_RESPONSE: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 56\r\n\r\n{\"message\":\"Too many requests. Please try again later.\"}";

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and waits for the
/// open connections to finish their requests (the caller bounds how long).
pub async fn serve<S>(
    listener: TcpListener,
    app: S,
    limits: ConnectionSettings,
    exempt: Vec<ipnet::IpNet>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    let counts = ConnectionCounts::new(limits.max_per_ip, exempt);
    // Dropped when the loop ends: every connection task sees it and shuts down gracefully.
    let (stop_tx, stop_rx) = watch::channel(());
    // Each connection task holds a receiver; when all are gone, every connection has finished.
    let (done_tx, done_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = counts.acquire(peer.ip()) else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let stream = CountedStream { stream, _slot: slot };
        tokio::spawn(serve_connection(stream, service, limits.header_read_timeout, stop_rx.clone(), done_rx.clone()));
    }
    drop(listener);
    drop(stop_tx);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

/// Serves one connection (HTTP/1.1, upgrades to WebSocket included) until it closes, or finishes
/// its request in flight once `stop` fires.
async fn serve_connection<S>(
    stream: CountedStream,
    service: S,
    header_read_timeout: Duration,
    mut stop: watch::Receiver<()>,
    _done: watch::Receiver<()>,
) where
    S: tower::Service<hyper::Request<Incoming>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)).with_upgrades();
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Answers a connection over its IP's cap with a 429 and closes it, spending at most a second on it.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(OVER_CAP_RESPONSE).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// A connection's stream holding its [`Slot`]: an upgraded WebSocket keeps the stream after hyper's
/// connection future has finished, so the slot must live as long as the stream itself, or open
/// WebSockets would not count against the cap.
struct CountedStream {
    stream: TcpStream,
    _slot: Slot,
}

impl tokio::io::AsyncRead for CountedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for CountedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Open connections per client IP.
#[derive(Clone)]
struct ConnectionCounts {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max_per_ip: usize,
    exempt: Arc<Vec<ipnet::IpNet>>,
}

impl ConnectionCounts {
    fn new(max_per_ip: usize, exempt: Vec<ipnet::IpNet>) -> Self {
        Self { open: Arc::default(), max_per_ip, exempt: Arc::new(exempt) }
    }

    /// A slot for one more connection from `ip`, or `None` when it holds its maximum already.
    fn acquire(&self, ip: IpAddr) -> Option<Slot> {
        if self.exempt.iter().any(|net| net.contains(&ip)) {
            return Some(Slot { counts: None, ip });
        }
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(ip).or_default();
        if *count >= self.max_per_ip {
            return None;
        }
        *count += 1;
        Some(Slot { counts: Some(self.clone()), ip })
    }
}

/// One open connection's place in [`ConnectionCounts`], given back when the connection ends.
struct Slot {
    counts: Option<ConnectionCounts>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(counts) = &self.counts else { return };
        let mut open = counts.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ip_gets_its_slots_back_when_connections_close() {
        let counts = ConnectionCounts::new(2, vec![]);
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        let (a, b) = (counts.acquire(ip), counts.acquire(ip));
        assert!(a.is_some() && b.is_some());
        assert!(counts.acquire(ip).is_none(), "the third is over the cap");
        assert!(counts.acquire("10.0.0.2".parse().expect("ip")).is_some(), "other IPs have their own");
        drop(a);
        assert!(counts.acquire(ip).is_some(), "a closed connection frees its slot");
        drop(b);
    }

    #[test]
    fn trusted_proxies_are_not_capped() {
        let counts = ConnectionCounts::new(1, vec!["10.0.0.0/8".parse().expect("net")]);
        let ip: IpAddr = "10.1.2.3".parse().expect("ip");
        let slots: Vec<_> = (0..5).map(|_| counts.acquire(ip)).collect();
        assert!(slots.iter().all(Option::is_some));
    }

    #[test]
    fn the_refusal_is_a_complete_http_response() {
        let text = std::str::from_utf8(OVER_CAP_RESPONSE).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(head.contains(&format!("content-length: {}", body.len())));
    }
}
