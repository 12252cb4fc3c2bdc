//! Starting a server under test as its own process and waiting until a client would call it
//! ready.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fake_apiserver::process::KillOnDrop;
use http_body_util::Full;
use hyper::body::Bytes;

use crate::load::{Http, Session};
use crate::paths;

const READY_WITHIN: Duration = Duration::from_secs(120);

pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

/// `gitops-agent serve` on loopback `port` against `kubeconfig`, logging errors only, without
/// a metrics listener; callers add their own flags.
pub fn agent(port: u16, kubeconfig: &Path) -> Result<Command, String> {
    let mut cmd = Command::new(paths::binary("gitops-agent")?);
    cmd.args(["serve", "--bind-address=127.0.0.1", "--metrics-port=0", "--log-level=error"])
        .arg(format!("--port={port}"))
        .arg(format!("--kubeconfig={}", kubeconfig.display()));
    Ok(cmd)
}

/// A running server; killed when dropped.
pub struct Started {
    _child: KillOnDrop,
    pub pid: u32,
    /// Its MCP endpoint.
    pub url: String,
    /// From spawn to the first successful MCP `initialize`.
    pub ready_after: Duration,
}

/// Spawns `cmd` (listening on `port`, stderr to `log`) and waits until it opens an MCP session
/// at `/mcp`, and first, when `readyz`, until `/readyz` answers 200.
pub async fn start(mut cmd: Command, port: u16, log: &Path, http: &Http, readyz: bool) -> Result<Started, String> {
    let name = cmd.get_program().to_string_lossy().into_owned();
    let stderr = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let started = Instant::now();
    let child = cmd.stdout(Stdio::null()).stderr(stderr).spawn().map_err(|e| format!("starting {name}: {e}"))?;
    let pid = child.id();
    let child = KillOnDrop(child);
    let base = format!("http://127.0.0.1:{port}");
    let url = format!("{base}/mcp");
    loop {
        if (!readyz || answers_ready(http, &base).await) && Session::open(http, &url).await.is_ok() {
            return Ok(Started { _child: child, pid, url, ready_after: started.elapsed() });
        }
        if started.elapsed() > READY_WITHIN {
            return Err(format!("{name} was not ready after {} s; its log: {}", READY_WITHIN.as_secs(), log.display()));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn answers_ready(http: &Http, base: &str) -> bool {
    let Ok(req) = hyper::Request::get(format!("{base}/readyz")).body(Full::new(Bytes::new())) else {
        return false;
    };
    matches!(http.request(req).await, Ok(r) if r.status().is_success())
}
