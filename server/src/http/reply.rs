//! [`Reply`]: how a handler answers with one of the contract's response structs.

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;

use crate::contract::responses::to_body;

/// A JSON response body from a contract struct, its keys in the contract's (sorted) order
/// ([`to_body`]).
pub struct Reply<T>(pub T);

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        Json(to_body(&self.0)).into_response()
    }
}

/// A JSON response body serialised earlier (by [`to_body`]'s rules), served as it is.
pub struct SerializedReply(pub Bytes);

impl IntoResponse for SerializedReply {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], self.0).into_response()
    }
}
