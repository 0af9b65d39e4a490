//! The process's shutdown signal (Ctrl-C or SIGTERM) and the reason every
//! connection hears when the server stops.

/// The close reason every connection gets (with 1001) when the server stops.
pub const SHUTTING_DOWN: &str = "server shutting down";

/// Resolves on Ctrl-C, or SIGTERM on Unix.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
