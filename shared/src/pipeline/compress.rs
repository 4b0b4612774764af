//! Stage 15, after respond: compresses the response body, as REST APIs' `minimumCompressionSize` does. A body of at least
//! that many bytes is compressed with the coding `Accept-Encoding` prefers (`coding.rs`), unless compressing
//! would not help: it is encoded already, a media type that is compressed by nature (images, video, audio,
//! archives), marked `Cache-Control: no-transform`, or empty. Compressed bodies leave a Lambda reply as
//! base64, so a result that would not fit the reply that way is sent as it was.

use http::{HeaderValue, StatusCode, header};

use super::{Exchange, MAX_REPLY_BYTES, SyncStage, cors::add_vary};
use crate::{
    coding::{self, Level},
    error::GatewayError,
    request::header_has_token,
};

const ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("Accept-Encoding");

pub(super) struct Compress {
    /// `None`: compression is off.
    pub(super) minimum_size: Option<usize>,
}

impl SyncStage for Compress {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let Some(minimum) = self.minimum_size else { return Ok(()) };
        let Some(response) = ex.response.as_mut() else { return Ok(()) };
        if response.body.is_empty()
            || response.body.len() < minimum
            || response.status == StatusCode::PARTIAL_CONTENT
            || !compressible(&response.headers)
        {
            return Ok(());
        }
        let Some(coding) =
            coding::negotiate(ex.request.headers.get_all(header::ACCEPT_ENCODING).iter().map(HeaderValue::as_bytes))
        else {
            return Ok(());
        };
        // The fastest level: on 100 KB of JSON it packs to 15% rather than 10% of the size, in a seventh of the
        // time (docs/performance.md), and a Lambda invocation is billed by the millisecond.
        let packed = match coding::encode(coding, &response.body, Level::Fastest) {
            Ok(packed) => packed,
            Err(e) => {
                tracing::warn!(error = %e, "cannot compress the response; sent as it is");
                return Ok(());
            }
        };
        // Base64 in the reply, with room for the envelope.
        let fits = packed.len().div_ceil(3) * 4 + 64 * 1024 <= MAX_REPLY_BYTES;
        if packed.len() >= response.body.len() || !fits {
            return Ok(());
        }
        response.body = packed.into();
        response.headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
        response.headers.remove(header::CONTENT_LENGTH);
        add_vary(&mut response.headers, "accept-encoding", ACCEPT_ENCODING);
        Ok(())
    }
}

/// Whether compressing the body could help.
fn compressible(headers: &http::HeaderMap) -> bool {
    if headers.get(header::CONTENT_ENCODING).is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity")) {
        return false;
    }
    if header_has_token(headers, &header::CACHE_CONTROL, &["no-transform"]) {
        return false;
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let (kind, subtype) = essence.split_once('/').unwrap_or((essence.as_str(), ""));
    let packed_by_nature = match kind {
        // SVG is text.
        "image" => subtype != "svg+xml",
        "video" | "audio" => true,
        "font" => subtype == "woff" || subtype == "woff2",
        "application" => matches!(
            subtype,
            "zip"
                | "gzip"
                | "x-gzip"
                | "x-bzip2"
                | "x-xz"
                | "zstd"
                | "x-7z-compressed"
                | "x-rar-compressed"
                | "vnd.rar"
                | "x-tar"
                | "java-archive"
                | "pdf"
        ),
        _ => false,
    };
    !packed_by_nature
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_compressed_by_nature_or_marked_are_left_alone() {
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut h = http::HeaderMap::new();
            for (n, v) in pairs {
                h.append(*n, HeaderValue::from_static(v));
            }
            compressible(&h)
        };
        assert!(with(&[("content-type", "application/json")]));
        assert!(with(&[("content-type", "image/svg+xml")]));
        assert!(with(&[]));
        assert!(with(&[("content-encoding", "identity")]));
        assert!(!with(&[("content-type", "image/png")]));
        assert!(!with(&[("content-type", "video/mp4")]));
        assert!(!with(&[("content-type", "application/zip")]));
        assert!(!with(&[("content-type", "text/plain"), ("content-encoding", "gzip")]));
        assert!(!with(&[("content-type", "text/plain"), ("cache-control", "max-age=60, No-Transform")]));
    }
}
