//! A `nats-server` of one's own on 127.0.0.1, for tests, demos and measurements.

use std::fmt;
use std::io;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// How long [`LocalServer::start`] waits for the server to accept connections.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A `nats-server` process listening on a free port of 127.0.0.1 only, killed (and its
/// JetStream store removed) when this is dropped.
///
/// It needs the `nats-server` binary on `PATH` (Debian and Ubuntu: `apt-get install
/// nats-server`). Nothing listens on any other address.
///
/// # Examples
///
/// ```no_run
/// use reorder_nats::LocalServer;
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = LocalServer::start()?;
/// let client = async_nats::connect(server.url()).await?;
/// # drop(client);
/// # Ok(())
/// # }
/// ```
pub struct LocalServer {
    child: Child,
    port: u16,
    url: String,
    store: Option<PathBuf>,
}

impl LocalServer {
    /// Starts a plain server (no JetStream) and waits until it accepts connections.
    ///
    /// # Errors
    ///
    /// `nats-server` is not installed (an [`io::ErrorKind::NotFound`] error that says
    /// how to install it), it exited at start, or it did not accept connections within
    /// 10 seconds.
    pub fn start() -> io::Result<Self> {
        Self::launch(false)
    }

    /// Starts a server with JetStream on, its store in a fresh temporary directory.
    ///
    /// # Errors
    ///
    /// As for [`start`](Self::start).
    pub fn start_jetstream() -> io::Result<Self> {
        Self::launch(true)
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn launch(jetstream: bool) -> io::Result<Self> {
        // A free port can be taken by someone else between our probe and the server's
        // bind: try a few.
        let mut last = None;
        for _ in 0..3 {
            match Self::try_launch(jetstream) {
                Ok(server) => return Ok(server),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("nats-server did not start")))
    }

    fn try_launch(jetstream: bool) -> io::Result<Self> {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // A name only this server has: readiness is "a server that says this name
        // answers", not "something accepts connections on the port".
        let name = format!("reorder-{}-{port}-{nanos}", std::process::id());
        let mut command = Command::new("nats-server");
        command
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-n", &name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let store = if jetstream {
            let dir = std::env::temp_dir().join(format!(
                "reorder-nats-{}-{port}-{nanos}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir)?;
            command.arg("-js").arg("-sd").arg(&dir);
            Some(dir)
        } else {
            None
        };
        let child = command.spawn().map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "`nats-server` is not on PATH: install it (Debian/Ubuntu: \
                     `apt-get install -y nats-server`) to run reorder-nats' tests and demos",
                )
            } else {
                e
            }
        })?;
        let mut server = Self {
            child,
            port,
            url: format!("nats://127.0.0.1:{port}"),
            store,
        };
        server.wait_ready(&name)?;
        Ok(server)
    }

    /// Waits until our server (by its name) greets a connection. A bare "connect
    /// succeeded" is not enough: on Linux a connect to a free port of the ephemeral range
    /// can connect to itself, and another process may have taken the port.
    fn wait_ready(&mut self, name: &str) -> io::Result<()> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "nats-server exited at start ({status}); is port {} taken?",
                    self.port
                )));
            }
            if greets(addr, name) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("nats-server did not accept connections within {READY_WITHIN:?}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether the server at `addr` sends an `INFO` line naming it `name`.
fn greets(addr: SocketAddr, name: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    if stream.local_addr().ok() == Some(addr) {
        return false; // connected to itself
    }
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut greeting = Vec::new();
    let mut buf = [0u8; 1024];
    while !greeting.contains(&b'\n') && greeting.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => greeting.extend_from_slice(&buf[..n]),
        }
    }
    let greeting = String::from_utf8_lossy(&greeting);
    greeting.starts_with("INFO ") && greeting.contains(&format!("\"server_name\":\"{name}\""))
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(store) = &self.store {
            let _ = std::fs::remove_dir_all(store);
        }
    }
}

impl fmt::Debug for LocalServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalServer")
            .field("url", &self.url)
            .field("pid", &self.child.id())
            .field("store", &self.store)
            .finish()
    }
}
