//! A cached answer, and its bytes in the shared tier: a 4-byte length, the metadata as JSON, then the body as
//! it is (no base64: binary bodies cost their own size).

use serde::{Deserialize, Serialize};

use crate::request::GatewayResponse;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    status: u16,
    headers: Vec<(String, String)>,
    stored_at_ms: i64,
    fresh_until_ms: i64,
    stale_until_ms: i64,
    generation: u64,
    tags: Vec<(String, u64)>,
}

/// One cached answer.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub status: u16,
    /// Kept parsed: a hit copies them, never parses them again.
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
    pub stored_at_ms: i64,
    pub fresh_until_ms: i64,
    pub stale_until_ms: i64,
    /// The stage generation it was written under.
    pub generation: u64,
    /// Its tags, each with the tag's generation when it was written.
    pub tags: Vec<(String, u64)>,
}

impl Entry {
    /// What to keep of an answer: its status, headers and body.
    pub fn of(response: &GatewayResponse) -> Self {
        Self {
            status: response.status.as_u16(),
            headers: response.headers.clone(),
            body: response.body.clone(),
            ..Self::default()
        }
    }

    /// The answer to send.
    pub fn response(&self) -> GatewayResponse {
        let status = http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::OK);
        GatewayResponse::new(status, self.headers.clone(), self.body.clone())
    }

    /// Bytes held, for the instance tier's budget.
    pub fn size(&self) -> usize {
        self.body.len() + self.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 16).sum::<usize>() + 128
    }

    pub fn encode(&self) -> Vec<u8> {
        // Header values that are not text do not survive the trip through the shared tier.
        let headers = self
            .headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let meta = Meta {
            status: self.status,
            headers,
            stored_at_ms: self.stored_at_ms,
            fresh_until_ms: self.fresh_until_ms,
            stale_until_ms: self.stale_until_ms,
            generation: self.generation,
            tags: self.tags.clone(),
        };
        let meta = serde_json::to_vec(&meta).unwrap_or_default();
        let mut out = Vec::with_capacity(4 + meta.len() + self.body.len());
        out.extend_from_slice(&u32::try_from(meta.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(&meta);
        out.extend_from_slice(&self.body);
        out
    }

    /// The entry in `bytes`; `None` when they are not one (a corrupt item).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let (len, rest) = bytes.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        let meta: Meta = serde_json::from_slice(rest.get(..len)?).ok()?;
        let body = bytes::Bytes::copy_from_slice(rest.get(len..)?);
        let mut headers = http::HeaderMap::with_capacity(meta.headers.len());
        for (name, value) in &meta.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes()).ok()?;
            headers.append(name, http::HeaderValue::try_from(value).ok()?);
        }
        Some(Self {
            status: meta.status,
            headers,
            body,
            stored_at_ms: meta.stored_at_ms,
            fresh_until_ms: meta.fresh_until_ms,
            stale_until_ms: meta.stale_until_ms,
            generation: meta.generation,
            tags: meta.tags,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_garbage_is_no_entry() {
        let entry = Entry {
            status: 201,
            headers: http::HeaderMap::from_iter([(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("image/png"),
            )]),
            body: bytes::Bytes::from_static(&[0, 159, 146, 150, 255]),
            stored_at_ms: 1,
            fresh_until_ms: 2,
            stale_until_ms: 3,
            generation: 4,
            tags: vec![("pets".into(), 5)],
        };
        let back = Entry::decode(&entry.encode()).expect("decodes");
        assert_eq!((back.status, back.body, back.tags), (201, entry.body.clone(), entry.tags.clone()));
        for garbage in [&b""[..], b"\x00\x00\x00\xffabc", b"\x00\x00\x00\x02{}", b"\x00\x00\x00\x01xbody"] {
            assert!(Entry::decode(garbage).is_none(), "{garbage:?}");
        }
    }
}
