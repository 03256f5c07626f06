//! A loopback endpoint that counts connections and refuses every request with a 400, so that
//! a request that should never have been made is seen (and fails fast, without retries).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::{JoinHandle, JoinSet};

pub struct Tripwire {
    /// `http://127.0.0.1:<port>`; any path answers the same.
    pub url: String,
    hits: Arc<AtomicUsize>,
    server: JoinHandle<()>,
}

impl Tripwire {
    pub async fn start() -> Tripwire {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("tripwire port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let server = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every connection task.
            let mut connections = JoinSet::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                connections.spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buffer))
                        .await;
                    let body = r#"{"error":"invalid_request","error_description":"tripwire"}"#;
                    let answer = format!(
                        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        Tripwire { url, hits, server }
    }

    /// How many connections it got.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Tripwire {
    fn drop(&mut self) {
        self.server.abort();
    }
}
