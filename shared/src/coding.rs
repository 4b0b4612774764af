//! Content codings: choosing one from `Accept-Encoding` (RFC 9110 q-values), compressing a body with it, and
//! reading a compressed request body with a cap on what it may grow to.
//!
//! gzip and deflate (zlib-wrapped, as HTTP's `deflate` is; raw deflate is read too) are always there; `br`
//! only with the crate's `brotli` feature (its size cost is in `docs/performance.md`).

use std::io::{Read, Write};

use flate2::{
    Compression,
    read::{DeflateDecoder, GzDecoder, ZlibDecoder},
    write::{GzEncoder, ZlibEncoder},
};

/// A coding the gateway can write and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Deflate,
    #[cfg(feature = "brotli")]
    Brotli,
}

impl Coding {
    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
            #[cfg(feature = "brotli")]
            Self::Brotli => "br",
        }
    }

    fn from_token(token: &str) -> Option<Self> {
        match token.to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Some(Self::Gzip),
            "deflate" => Some(Self::Deflate),
            #[cfg(feature = "brotli")]
            "br" => Some(Self::Brotli),
            _ => None,
        }
    }

    /// What the gateway offers, most preferred first when the client weighs them equally.
    pub const OFFERED: &[Self] = &[
        #[cfg(feature = "brotli")]
        Self::Brotli,
        Self::Gzip,
        Self::Deflate,
    ];
}

/// The coding to answer with, from every `Accept-Encoding` value the request carries: the offered coding with
/// the highest q-value above 0 (`*` stands for any not named). `None`: none is acceptable, the header is
/// absent, or it is malformed (a malformed header gets the body as it is, never an error).
pub fn negotiate<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Option<Coding> {
    let mut named: Vec<(Coding, u16)> = Vec::new();
    let mut wildcard: Option<u16> = None;
    let mut any_value = false;
    for value in values {
        any_value = true;
        let text = std::str::from_utf8(value).ok()?;
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let mut parts = item.split(';').map(str::trim);
            let token = parts.next()?;
            if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            {
                return None;
            }
            let mut q = 1000;
            for param in parts {
                let (name, v) = param.split_once('=')?;
                if name.trim().eq_ignore_ascii_case("q") {
                    q = parse_qvalue(v.trim())?;
                }
            }
            if token == "*" {
                wildcard = Some(q);
            } else if let Some(coding) = Coding::from_token(token) {
                named.push((coding, q));
            }
        }
    }
    if !any_value {
        return None;
    }
    Coding::OFFERED
        .iter()
        .map(|c| {
            let q = named.iter().find(|(n, _)| n == c).map(|(_, q)| *q).or(wildcard).unwrap_or(0);
            (*c, q)
        })
        .filter(|(_, q)| *q > 0)
        // The first of the highest q-values, in the order offered.
        .fold(None, |best: Option<(Coding, u16)>, (c, q)| match best {
            Some((_, bq)) if bq >= q => best,
            _ => Some((c, q)),
        })
        .map(|(c, _)| c)
}

/// An RFC 9110 qvalue as thousandths: `0`, `1`, `0.5`, `1.000`; anything else is malformed.
fn parse_qvalue(text: &str) -> Option<u16> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Compression effort: what the gateway uses, and what the benchmarks compare it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Fastest,
    Default,
    Best,
}

/// `body` compressed with `coding`.
pub fn encode(coding: Coding, body: &[u8], level: Level) -> std::io::Result<Vec<u8>> {
    let flate = match level {
        Level::Fastest => Compression::fast(),
        Level::Default => Compression::default(),
        Level::Best => Compression::best(),
    };
    match coding {
        Coding::Gzip => {
            let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), flate);
            encoder.write_all(body)?;
            encoder.finish()
        }
        Coding::Deflate => {
            let mut encoder = ZlibEncoder::new(Vec::with_capacity(body.len() / 4), flate);
            encoder.write_all(body)?;
            encoder.finish()
        }
        #[cfg(feature = "brotli")]
        Coding::Brotli => {
            let quality = match level {
                Level::Fastest => 1,
                Level::Default => 5,
                Level::Best => 11,
            };
            let mut out = Vec::with_capacity(body.len() / 4);
            {
                let mut writer = brotli::CompressorWriter::new(&mut out, 4096, quality, 22);
                writer.write_all(body)?;
            }
            Ok(out)
        }
    }
}

/// Why a compressed body could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("Content-Encoding {0:?} is not one the gateway reads")]
    Unsupported(String),
    #[error("the body grows past {0} bytes once decompressed")]
    TooLarge(usize),
    #[error("the body is not valid {0}")]
    Corrupt(&'static str),
}

/// Reads a body sent with `Content-Encoding: content_encoding` (codings listed in the order they were applied;
/// `identity` is no coding). Stops as soon as the result would pass `limit` bytes, so a small bomb costs no
/// more than `limit`.
pub fn decode(content_encoding: &str, body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let codings: Vec<&str> = content_encoding
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"))
        .collect();
    let mut data = body.to_vec();
    for token in codings.iter().rev() {
        let coding = Coding::from_token(token).ok_or_else(|| DecodeError::Unsupported((*token).to_owned()))?;
        data = match coding {
            Coding::Gzip => read_capped(GzDecoder::new(&data[..]), limit, "gzip")?,
            // HTTP's deflate is zlib-wrapped; some clients send it raw.
            Coding::Deflate => match read_capped(ZlibDecoder::new(&data[..]), limit, "deflate") {
                Err(DecodeError::Corrupt(_)) => read_capped(DeflateDecoder::new(&data[..]), limit, "deflate")?,
                other => other?,
            },
            #[cfg(feature = "brotli")]
            Coding::Brotli => read_capped(brotli::Decompressor::new(&data[..], 4096), limit, "br")?,
        };
    }
    Ok(data)
}

fn read_capped(reader: impl Read, limit: usize, name: &'static str) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader.take(cap).read_to_end(&mut out).map_err(|_| DecodeError::Corrupt(name))?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge(limit));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(header: &str) -> Option<Coding> {
        negotiate([header.as_bytes()])
    }

    #[test]
    fn negotiation_follows_q_values() {
        assert_eq!(pick("gzip, deflate"), Some(Coding::Gzip));
        assert_eq!(pick("deflate"), Some(Coding::Deflate));
        assert_eq!(pick("gzip;q=0.5, deflate;q=0.8"), Some(Coding::Deflate));
        assert_eq!(pick("gzip;q=0, deflate;q=0"), None);
        assert_eq!(pick("identity"), None);
        assert_eq!(pick("*"), Some(Coding::OFFERED[0]));
        assert!(matches!(pick("*;q=0.1, gzip;q=0"), Some(c) if c != Coding::Gzip));
        assert_eq!(pick("GZIP;Q=1.000"), Some(Coding::Gzip));
        assert_eq!(negotiate(std::iter::empty()), None);
        assert_eq!(negotiate(["deflate;q=0.2".as_bytes(), "gzip;q=0.4".as_bytes()]), Some(Coding::Gzip));
    }

    #[test]
    fn malformed_accept_encoding_gets_no_coding() {
        for bad in ["gzip;q=2", "gzip;q=abc", "gzip;q", "gzip;q=0.5555", "gz ip", "gzip;q=-1", ";q=1"] {
            assert_eq!(pick(bad), None, "{bad}");
        }
        assert_eq!(negotiate([&b"gzip\xff"[..]]), None);
    }

    #[test]
    fn what_is_encoded_decodes_and_bombs_stop_at_the_limit() {
        let body = br#"{"pets":[{"id":1,"name":"rex"},{"id":2,"name":"tom"}]}"#.repeat(100);
        for coding in Coding::OFFERED {
            let packed = encode(*coding, &body, Level::Default).expect("encode");
            assert!(packed.len() < body.len() / 5, "{coding:?}: {}", packed.len());
            assert_eq!(decode(coding.token(), &packed, body.len()).expect("decode"), body);
            assert_eq!(decode(coding.token(), &packed, body.len() - 1), Err(DecodeError::TooLarge(body.len() - 1)));
        }
        let raw = {
            let mut e = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
            e.write_all(&body).expect("write");
            e.finish().expect("finish")
        };
        assert_eq!(decode("deflate", &raw, body.len()).expect("raw deflate"), body);
        let twice = encode(Coding::Gzip, &encode(Coding::Deflate, &body, Level::Fastest).expect("1"), Level::Fastest)
            .expect("2");
        assert_eq!(decode("deflate, gzip", &twice, body.len()).expect("both"), body);
        // A megabyte of zeros packs into about a kilobyte.
        let bomb = encode(Coding::Gzip, &vec![0; 1 << 20], Level::Best).expect("bomb");
        assert!(bomb.len() < 2048);
        assert_eq!(decode("gzip", &bomb, 1000), Err(DecodeError::TooLarge(1000)));
        assert_eq!(decode("gzip", b"not gzip", 1000), Err(DecodeError::Corrupt("gzip")));
        assert_eq!(decode("zstd", b"x", 1000), Err(DecodeError::Unsupported("zstd".into())));
        assert_eq!(decode("identity", b"as is", 1000).expect("identity"), b"as is");
    }
}
