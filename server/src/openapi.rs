//! The OpenAPI document (served at `/openapi.json`) and its offline docs UI (at `/docs`).

use utoipa::OpenApi;

/// Top-level API description; each route module adds its own paths through `utoipa-axum`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Code4me-RS",
        description = "Self-hostable code-completion research platform, wire-compatible with Code4me V2.",
        license(name = "MIT OR Apache-2.0")
    ),
    tags(
        (name = "ops", description = "Liveness, health and metrics"),
    )
)]
pub struct ApiDoc;
