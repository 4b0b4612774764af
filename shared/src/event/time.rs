//! API Gateway's request time format (`12/Mar/2020:19:03:58 +0000`). It changes once a second, so each thread
//! keeps the last one it formatted: strftime re-parses its pattern on every call, and every request needs one.

use std::cell::RefCell;

thread_local! {
    static LAST: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
}

/// The CLF time of `epoch_ms`, in UTC.
pub fn request_time(epoch_ms: i64) -> String {
    let second = epoch_ms.div_euclid(1000);
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != second {
            let time = chrono::DateTime::from_timestamp(second, 0).unwrap_or_default();
            *last = (second, time.format("%d/%b/%Y:%H:%M:%S %z").to_string());
        }
        last.1.clone()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_as_api_gateway_does() {
        assert_eq!(super::request_time(1_583_348_638_390), "04/Mar/2020:19:03:58 +0000");
        assert_eq!(super::request_time(1_583_348_638_999), "04/Mar/2020:19:03:58 +0000");
        assert_eq!(super::request_time(1_583_348_639_000), "04/Mar/2020:19:03:59 +0000");
    }
}
