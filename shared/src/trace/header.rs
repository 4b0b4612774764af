//! Trace ids and the two header formats that carry them: X-Ray's `X-Amzn-Trace-Id`
//! (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`) and W3C's `traceparent`
//! (`00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01`). Both name the same 128 bits, so a trace the
//! gateway starts has one id in both. Parsing never panics: what does not parse is an error the caller
//! replaces with a fresh trace.

use std::fmt;

/// Why a trace header was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("no Root=1-<8 hex>-<24 hex> field")]
    Root,
    #[error("not a version-00 traceparent (00-<32 hex>-<16 hex>-<2 hex>)")]
    TraceParent,
}

/// A trace: X-Ray's `1-{epoch seconds, 8 hex}-{96 random bits, 24 hex}`, or W3C's 32 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId(u128);

impl TraceId {
    /// A new trace started at `epoch_secs`, as X-Ray ids are: the time in the top 32 bits, random below.
    pub fn start(epoch_secs: i64, random: u128) -> Self {
        let secs = u128::from(u32::try_from(epoch_secs.max(0)).unwrap_or(u32::MAX));
        Self((secs << 96) | (random & ((1 << 96) - 1)) | 1)
    }

    /// `1-5759e988-bd862e3fe1be46a994272793`.
    pub fn xray(self) -> String {
        format!("1-{:08x}-{:024x}", self.0 >> 96, self.0 & ((1 << 96) - 1))
    }

    /// `5759e988bd862e3fe1be46a994272793`.
    pub fn w3c(self) -> String {
        format!("{:032x}", self.0)
    }

    fn parse_xray(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("1-")?;
        let (time, random) = rest.split_once('-')?;
        (time.len() == 8 && random.len() == 24).then_some(())?;
        let id = (hex(time)? << 96) | hex(random)?;
        (id != 0).then_some(Self(id))
    }
}

/// A segment or span: 16 hex digits, never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId(u64);

impl SpanId {
    pub fn new(random: u64) -> Self {
        Self(random.max(1))
    }

    fn parse(text: &str) -> Option<Self> {
        if text.len() != 16 {
            return None;
        }
        let id = u64::try_from(hex(text)?).ok()?;
        (id != 0).then_some(Self(id))
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// What an `X-Amzn-Trace-Id` header says. Fields other than these three (`Self`, `Lineage`) are not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XrayHeader {
    pub root: TraceId,
    /// The segment the request came from, when the sender recorded one.
    pub parent: Option<SpanId>,
    /// The sender's sampling decision: `Sampled=1`, `Sampled=0`, or none (`?` or absent).
    pub sampled: Option<bool>,
}

impl XrayHeader {
    /// Reads a header; a field other than `Root` that does not parse is dropped, a bad `Root` refuses it all.
    pub fn parse(text: &str) -> Result<Self, HeaderError> {
        let (mut root, mut parent, mut sampled) = (None, None, None);
        for field in text.split(';') {
            let Some((key, value)) = field.split_once('=') else { continue };
            match key.trim() {
                "Root" => root = TraceId::parse_xray(value.trim()),
                "Parent" => parent = SpanId::parse(value.trim()),
                "Sampled" => {
                    sampled = match value.trim() {
                        "1" => Some(true),
                        "0" => Some(false),
                        _ => None,
                    }
                }
                _ => {}
            }
        }
        Ok(Self { root: root.ok_or(HeaderError::Root)?, parent, sampled })
    }
}

impl fmt::Display for XrayHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Root={}", self.root.xray())?;
        if let Some(parent) = self.parent {
            write!(f, ";Parent={parent}")?;
        }
        match self.sampled {
            Some(sampled) => write!(f, ";Sampled={}", u8::from(sampled)),
            None => Ok(()),
        }
    }
}

/// A W3C `traceparent` (Trace Context level 1). Only version 00 is written; a later version is read by its first
/// four fields, as the recommendation asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: TraceId,
    pub parent: SpanId,
    pub flags: u8,
}

impl TraceParent {
    pub fn parse(text: &str) -> Result<Self, HeaderError> {
        Self::read(text.trim_matches([' ', '\t'])).ok_or(HeaderError::TraceParent)
    }

    fn read(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let version = text.get(0..2)?;
        // `ff` is forbidden; 00 has exactly four fields; later versions may add fields after a dash.
        let fits = match version {
            "00" => bytes.len() == 55,
            "ff" => false,
            _ => bytes.len() == 55 || (bytes.len() > 55 && bytes[55] == b'-'),
        };
        if !fits || bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' || !lower_hex(version) {
            return None;
        }
        let (trace, parent, flags) = (text.get(3..35)?, text.get(36..52)?, text.get(53..55)?);
        if !(lower_hex(trace) && lower_hex(parent) && lower_hex(flags)) {
            return None;
        }
        let trace_id = hex(trace).filter(|id| *id != 0).map(TraceId)?;
        let flags = u8::try_from(hex(flags)?).ok()?;
        Some(Self { trace_id, parent: SpanId::parse(parent)?, flags })
    }

    pub fn sampled(self) -> bool {
        self.flags & 1 == 1
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "00-{}-{}-{:02x}", self.trace_id.w3c(), self.parent, self.flags)
    }
}

/// Up to 32 hex digits as a number; `None` for anything else.
fn hex(text: &str) -> Option<u128> {
    if text.is_empty() || text.len() > 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(text, 16).ok()
}

/// W3C allows lowercase hex only.
fn lower_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn xray_headers_round_trip_and_keep_three_fields() {
        let text = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1");
        let header = XrayHeader::parse(&text).expect("valid");
        assert_eq!(header.root.xray(), ROOT);
        assert_eq!(header.parent.map(|p| p.to_string()).as_deref(), Some("53995c3f42cd8ad8"));
        assert_eq!(header.sampled, Some(true));
        assert_eq!(header.to_string(), text);
        // ALB's `Self` and a spaced, reordered header: the three fields still read.
        let alb = format!("Self=1-67891234-12456789abcdef012345678; Sampled=0 ;Root={ROOT}");
        let header = XrayHeader::parse(&alb).expect("valid");
        assert_eq!((header.root.xray().as_str(), header.parent, header.sampled), (ROOT, None, Some(false)));
        assert_eq!(XrayHeader::parse(&format!("Root={ROOT};Sampled=?")).expect("valid").sampled, None);
    }

    #[test]
    fn malformed_xray_headers_are_refused_or_trimmed() {
        for bad in [
            "",
            "hello",
            "Root=",
            "Root=1-5759e988-bd862e3fe1be46a99427279",   // 23 hex
            "Root=2-5759e988-bd862e3fe1be46a994272793",  // version 2
            "Root=1-5759e98g-bd862e3fe1be46a994272793",  // not hex
            "Root=1-00000000-000000000000000000000000",  // zero
            "Root=1-5759e988-bd862e3fe1be46a9942727933", // 25 hex
            "Root=1-+759e988-bd862e3fe1be46a994272793",  // from_str_radix takes a sign
            "Root=1-é759e988-bd862e3fe1be46a994272793",
        ] {
            assert_eq!(XrayHeader::parse(bad), Err(HeaderError::Root), "{bad:?}");
        }
        // A bad Parent is dropped, the trace kept.
        let header = XrayHeader::parse(&format!("Root={ROOT};Parent=0000000000000000;Sampled=yes")).expect("root");
        assert_eq!((header.parent, header.sampled), (None, None));
        assert_eq!(XrayHeader::parse(&format!("Root={ROOT};Parent=53995c3f42cd8ad")).expect("root").parent, None);
    }

    #[test]
    fn traceparents_follow_the_w3c_rules() {
        let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let parsed = TraceParent::parse(text).expect("valid");
        assert!(parsed.sampled());
        assert_eq!(parsed.to_string(), text);
        // A later version is read by its first four fields and written as 00.
        let future = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-comes-next";
        assert_eq!(TraceParent::parse(future).expect("valid").to_string(), text.replace("-01", "-00"));
        for bad in [
            "",
            "00",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e473é-00f067aa0ba902b7-01",
            "0é-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), Err(HeaderError::TraceParent), "{bad:?}");
        }
    }

    #[test]
    fn a_started_trace_has_the_same_id_in_both_formats() {
        let id = TraceId::start(0x5759e988, 0xbd862e3fe1be46a994272792);
        assert_eq!(id.xray(), ROOT, "the time on top; the low bit set so no id is zero");
        assert_eq!(id.w3c(), ROOT.replace("1-", "").replace('-', ""));
        assert_eq!(TraceId::start(-5, 0).xray(), "1-00000000-000000000000000000000001");
        assert_eq!(SpanId::new(0).to_string(), "0000000000000001");
    }
}
