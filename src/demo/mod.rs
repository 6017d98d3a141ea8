//! The built-in simulated LLM gateway: OpenAI-compatible chat completions plus seed-dialect `/metrics`.
// INTERFACE STUB — being implemented. Types and signatures are the contract.
use std::net::SocketAddr;

#[derive(Debug, Clone, Default)]
pub struct DemoConfig {
    /// Seed for the synthetic traffic; `None` = from entropy.
    pub seed: Option<u64>,
}

/// A running demo gateway. Dropping it does not stop it; call [`DemoGateway::shutdown`].
pub struct DemoGateway {
    addr: SocketAddr,
}

impl DemoGateway {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub async fn shutdown(self) {}
}

/// Binds `addr` (port 0 = a free port), starts the HTTP server and the synthetic traffic, returns at once.
pub async fn spawn(_addr: SocketAddr, _config: DemoConfig) -> anyhow::Result<DemoGateway> {
    todo!()
}
