//! Stage 7, decompress: where compression is on (`minimumCompressionSize`), a request body sent with
//! `Content-Encoding` is decompressed before the integration sees it, as REST APIs do. What it may grow to is
//! capped at the payload limit, so a small bomb is a 413 and never an out-of-memory; a body that does not
//! decompress is a 400 (`BAD_REQUEST_BODY`), a coding the gateway cannot read a 415. It runs after the stages
//! that identify the caller (authorizer, API key), so an unknown caller never costs the work, and before
//! validate, which checks the body the backend will get.

use http::{HeaderValue, header};

use super::{Exchange, MAX_BODY_BYTES, SyncStage};
use crate::{
    coding::{self, DecodeError},
    error::GatewayError,
};

pub(super) struct Decompress {
    pub(super) enabled: bool,
}

impl SyncStage for Decompress {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        if !self.enabled {
            return Ok(());
        }
        let request = &mut ex.request;
        let Some(encoding) = request.headers.get(header::CONTENT_ENCODING) else { return Ok(()) };
        let encoding = encoding
            .to_str()
            .map_err(|_| GatewayError::UnsupportedMediaType("Content-Encoding is not text".to_owned()))?;
        let body = coding::decode(encoding, &request.body, MAX_BODY_BYTES).map_err(|e| match e {
            DecodeError::Unsupported(_) => GatewayError::UnsupportedMediaType(e.to_string()),
            DecodeError::TooLarge(_) => GatewayError::RequestTooLarge(e.to_string()),
            DecodeError::Corrupt(_) => GatewayError::BadRequestBody(e.to_string()),
        })?;
        request.headers.remove(header::CONTENT_ENCODING);
        if request.headers.contains_key(header::CONTENT_LENGTH) {
            request.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        request.body = body.into();
        Ok(())
    }
}
