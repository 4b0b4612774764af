//! Any bytes as a Lambda function's reply, mapped by each payload version and API type's rules.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_core::{
    config::PayloadVersion,
    integration::lambda_reply::{ReplyRules, map},
    request::{ApiType, MediaTypes},
};

fuzz_target!(|data: &[u8]| {
    let binary = MediaTypes::parse(&["image/*".to_owned(), "application/octet-stream".to_owned()]).expect("types");
    for version in [PayloadVersion::V1, PayloadVersion::V2] {
        for api in [ApiType::Http, ApiType::Rest] {
            for accept in [None, Some("image/png"), Some("text/html, */*")] {
                let rules = ReplyRules { version, api, binary_media_types: &binary, accept };
                let _ = map(rules, data);
            }
        }
    }
});
