//! A slow, throttling and failing DynamoDB between the gateway and dynalite.
