//! LocalServer: killed on drop; a machine without `nats-server` gets a clear error, not
//! a skip. One test in its own process, because it changes PATH.

use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

use reorder_nats::LocalServer;

#[test]
fn the_server_dies_with_its_guard_and_a_missing_binary_says_how_to_install_it() {
    let server = LocalServer::start().expect("nats-server on PATH (apt-get install nats-server)");
    let port = server.port();
    assert_eq!(server.url(), format!("nats://127.0.0.1:{port}"));
    assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok());
    drop(server);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
        "the server outlived its guard"
    );

    let empty = std::env::temp_dir().join(format!("reorder-nats-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    std::env::set_var("PATH", &empty);
    let err = LocalServer::start().unwrap_err();
    let _ = std::fs::remove_dir(&empty);
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert!(
        err.to_string().contains("apt-get install -y nats-server"),
        "{err}"
    );
}
