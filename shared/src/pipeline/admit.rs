//! Stage 1, admit: the request is well-formed and within API Gateway's limits.
//! It does not look at routes; an oversized request to a missing route is still 413, as in API Gateway.

use super::{Exchange, SyncStage};
use crate::error::GatewayError;

/// API Gateway's payload limit (REST and HTTP APIs).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// API Gateway's limit on the request line plus all headers.
pub const MAX_HEADER_BYTES: usize = 10 * 1024;

pub(super) struct Admit;

impl SyncStage for Admit {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let req = &ex.request;
        if let Some(why) = &req.malformed {
            return Err(GatewayError::BadRequest(why.clone()));
        }
        if req.body.len() > MAX_BODY_BYTES {
            return Err(GatewayError::RequestTooLarge(format!("body of {} bytes", req.body.len())));
        }
        // Request line ("GET /path?query HTTP/1.1\r\n") plus "name: value\r\n" per header.
        let line = req.method.as_str().len() + req.raw_path.len() + req.raw_query.len() + 12;
        let headers: usize = req.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
        if line + headers > MAX_HEADER_BYTES {
            return Err(GatewayError::RequestTooLarge(format!("request line and headers of {} bytes", line + headers)));
        }
        if !req.raw_path.starts_with('/') {
            return Err(GatewayError::BadRequest(format!("path {:?} does not start with '/'", req.raw_path)));
        }
        if !req.path_decoded {
            check_percent_encoding(&req.raw_path).map_err(GatewayError::BadRequest)?;
        }
        check_percent_encoding(&req.raw_query).map_err(GatewayError::BadRequest)?;
        Ok(())
    }
}

/// Every `%` must start a two-digit hex escape.
fn check_percent_encoding(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| b == b'%') {
        let at = i + offset;
        let ok = bytes.get(at + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(at + 2).is_some_and(u8::is_ascii_hexdigit);
        if !ok {
            return Err(format!("invalid percent-encoding at byte {at} of {text:?}"));
        }
        i = at + 3;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_percent_encoding;

    #[test]
    fn percent_encoding_must_be_complete() {
        assert!(check_percent_encoding("/a%20b/%E2%9C%93").is_ok());
        for bad in ["/a%", "/a%2", "/a%zz", "/%g0"] {
            assert!(check_percent_encoding(bad).is_err(), "{bad}");
        }
    }
}
