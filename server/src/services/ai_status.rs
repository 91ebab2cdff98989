//! The provider chain as operators and clients see it (`/api/ai/health`, `/api/status`): each
//! provider with its circuit and models, whether anything can serve now, and the default model.
//! Remote providers are not probed (a probe per health check would cost their quota); an open
//! circuit is what says one is failing.

use code4me_shared::providers::LOCAL_PROVIDER;

use crate::contract::tasks::{AiHealth, DefaultModelStatus, ProviderHealth, ServiceStatus};
use crate::services::state::AppState;

/// The chain now, with the live workers' models under `local`, and how many workers live.
async fn chain(state: &AppState) -> (Vec<ProviderHealth>, usize) {
    let served = state.models.served().await;
    let rows = state.models.entries().await.unwrap_or_default();
    let local_models: Vec<String> = rows.iter().filter(|m| served.models.contains(&m.id)).map(|m| m.name.clone()).collect();
    let providers = state
        .providers
        .status()
        .into_iter()
        .map(|p| ProviderHealth {
            models: if p.name == LOCAL_PROVIDER { local_models.clone() } else { p.models },
            name: p.name,
            priority: p.priority,
            circuit_open: p.circuit_open,
        })
        .collect();
    (providers, served.workers)
}

/// Whether `provider` can take a request now: a closed circuit, and for `local` a live worker.
fn can_serve(provider: &ProviderHealth, workers: usize) -> bool {
    !provider.circuit_open && (provider.name != LOCAL_PROVIDER || workers > 0)
}

/// `GET /api/ai/health`: `ok` when every provider can serve, `degraded` when some can,
/// `unavailable` when none can.
pub async fn health(state: &AppState) -> AiHealth {
    let (providers, workers) = chain(state).await;
    let serving = providers.iter().filter(|p| can_serve(p, workers)).count();
    let status = match serving {
        0 => "unavailable",
        n if n == providers.len() => "ok",
        _ => "degraded",
    };
    AiHealth { success: serving > 0, status: status.to_owned(), providers, local_workers: workers }
}

/// `GET /api/status`: version, uptime, the chain and whether the default chat model is served.
pub async fn status(state: &AppState) -> ServiceStatus {
    let (providers, workers) = chain(state).await;
    let default = state.models.default_model(true).await.ok().flatten().map(|m| m.name);
    let served = default.as_ref().is_some_and(|name| {
        providers.iter().filter(|p| can_serve(p, workers)).any(|p| p.models.iter().any(|m| m == name || (p.name != LOCAL_PROVIDER && m == "*")))
    });
    ServiceStatus {
        success: true,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_seconds: state.health.started.elapsed().as_secs(),
        providers,
        default_model: DefaultModelStatus { name: default, served },
    }
}
