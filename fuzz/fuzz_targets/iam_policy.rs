//! A Lambda authorizer's policy document (any JSON) and a method ARN: parsing and evaluation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_core::auth::iam_policy::IamPolicy;

fuzz_target!(|data: &[u8]| {
    // The document, then a NUL, then the ARN to evaluate.
    let (document, arn) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b"arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/pets/1"[..]),
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(document) else { return };
    let Ok(arn) = std::str::from_utf8(arn) else { return };
    if let Ok(policy) = IamPolicy::parse(&value) {
        let _ = policy.evaluate(arn);
    }
});
