//! The server over real sockets: what a client can make it hold, and how
//! connections are cut off, answered or kept.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Simulator;
use super::config::Config;
use super::http::Limits;

const REQUEST: &[u8] = b"POST / HTTP/1.1\r\nHost: sim\r\nContent-Length: 2\r\n\
    X-Amz-Target: AWSCognitoIdentityProviderService.AdminGetUser\r\n\r\n{}";

async fn sim(limits: Limits) -> Simulator {
    Simulator::start_with("127.0.0.1:0", Config::default(), limits)
        .await
        .unwrap()
}

fn quick() -> Limits {
    Limits {
        header_timeout: Duration::from_millis(150),
        body_timeout: Duration::from_millis(150),
        ..Limits::default()
    }
}

/// Reads until the server closes; fails the test after two seconds.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(2), read)
        .await
        .expect("the server closed the connection");
    seen
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed() {
    let sim = sim(quick()).await;
    let mut stream = TcpStream::connect(sim.addr()).await.unwrap();
    stream.write_all(REQUEST).await.unwrap();
    let seen = until_closed(&mut stream).await;
    assert!(
        seen.starts_with(b"HTTP/1.1 400"),
        "answered, then closed when idle"
    );
}

#[tokio::test]
async fn slow_headers_and_slow_bodies_are_cut_off() {
    let sim = sim(quick()).await;
    let mut slow_head = TcpStream::connect(sim.addr()).await.unwrap();
    slow_head
        .write_all(b"POST / HTTP/1.1\r\nHost: s")
        .await
        .unwrap();
    until_closed(&mut slow_head).await;
    let mut slow_body = TcpStream::connect(sim.addr()).await.unwrap();
    slow_body
        .write_all(b"POST / HTTP/1.1\r\nHost: sim\r\nContent-Length: 10\r\n\r\n{}")
        .await
        .unwrap();
    let seen = until_closed(&mut slow_body).await;
    assert!(seen.is_empty(), "dropped without an answer");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let sim = sim(Limits {
        max_connections: 1,
        ..quick()
    })
    .await;
    let mut idle = TcpStream::connect(sim.addr()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut waiting = TcpStream::connect(sim.addr()).await.unwrap();
    waiting.write_all(REQUEST).await.unwrap();
    until_closed(&mut idle).await;
    let seen = until_closed(&mut waiting).await;
    assert!(
        seen.starts_with(b"HTTP/1.1 400"),
        "served once the idle one went"
    );
}
