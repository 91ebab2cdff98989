//! `POST /v1/embeddings`: sentence embeddings (all-MiniLM-L6-v2, 384 dimensions) from a worker,
//! for code search and retrieval in clients that speak OpenAI's API.

use axum::extract::State;
use axum::response::Response;
use base64::Engine;

use super::OpenAiJson;
use crate::contract::openai::{Embedding, EmbeddingList, EmbeddingRequest, EmbeddingUsage, EmbeddingVector, OpenAiError, OpenAiErrorBody};
use crate::http::metering::UsageNote;
use crate::services::generation::OpenCaller;
use crate::services::openai;
use crate::services::state::AppState;

/// Embeds one text or a batch (`encoding_format: base64` → little-endian `f32` bytes in base64).
#[utoipa::path(post, path = "/v1/embeddings", tag = "openai", security(("bearer" = []), ("auth_token" = [])),
    request_body(content = crate::openapi::OpenAiEmbeddingBody),
    responses(
        (status = 200, description = "One vector per input, in order", body = EmbeddingList),
        (status = 400, description = "A field is missing or invalid (`param` names it)", body = OpenAiErrorBody),
        (status = 401, description = "No working API key or auth token", body = OpenAiErrorBody),
        (status = 404, description = "Not the embedding model (`model_not_found`)", body = OpenAiErrorBody),
        (status = 503, description = "No worker has the embedding model loaded", body = OpenAiErrorBody)
    ))]
pub async fn create(State(state): State<AppState>, _caller: OpenCaller, OpenAiJson(body): OpenAiJson) -> Result<Response, OpenAiError> {
    let request = EmbeddingRequest::parse(&body)?;
    // Estimated (the worker reports no token counts for embeddings): about four characters a token.
    let tokens: usize = request.inputs.iter().map(|text| text.chars().count().div_ceil(4)).sum();
    let tokens = u32::try_from(tokens).unwrap_or(u32::MAX);
    let vectors = openai::embed(&state, &request.model, request.inputs).await?;
    let data = vectors
        .into_iter()
        .enumerate()
        .map(|(index, vector)| Embedding { object: "embedding", index, embedding: encode(vector, request.base64) })
        .collect();
    let list =
        EmbeddingList { object: "list", data, model: request.model.clone(), usage: EmbeddingUsage { prompt_tokens: tokens, total_tokens: tokens } };
    let mut response = axum::response::IntoResponse::into_response(axum::Json(list));
    response.extensions_mut().insert(UsageNote { model: Some(request.model), prompt_tokens: tokens, generated_tokens: 0 });
    Ok(response)
}

/// The vector as numbers, or as base64 of its little-endian `f32` bytes.
fn encode(vector: Vec<f32>, base64: bool) -> EmbeddingVector {
    if !base64 {
        return EmbeddingVector::Float(vector);
    }
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    EmbeddingVector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors_are_little_endian_f32s() {
        let EmbeddingVector::Base64(text) = encode(vec![1.0, -0.5], true) else { panic!("base64") };
        let bytes = base64::engine::general_purpose::STANDARD.decode(text).expect("base64");
        assert_eq!(bytes, [1.0_f32.to_le_bytes(), (-0.5_f32).to_le_bytes()].concat());
    }
}
