//! The built-in actions, answered without a Lambda function:
//!
//! | action | message | effect |
//! |---|---|---|
//! | `subscribe` | `{"action":"subscribe","channel":"c"}` | joins `c`; answers `{"action":"subscribed","channel":"c"}` |
//! | `unsubscribe` | `{"action":"unsubscribe","channel":"c"}` | leaves `c`; answers `{"action":"unsubscribed","channel":"c"}` |
//! | `publish` | `{"action":"publish","channel":"c","data":...}` | `data` to every subscriber of `c` |
//! | `send` | `{"action":"send","connectionId":"id","data":...}` | `data` to one connection |
//! | `broadcast` | `{"action":"broadcast","data":...}` | `data` to every connection of the stage |
//!
//! `data` is delivered as the chat sample delivers it: a string as that text, anything else as its JSON.

use serde_json::{Value, json};

use super::{WebSocketApi, event::WsResponse, fanout::PostError, message::Incoming};
use crate::{
    config::Builtin,
    store::{StoreError, connections::check_channel},
};

impl WebSocketApi {
    pub(super) async fn run_builtin(&self, action: Builtin, incoming: &Incoming<'_>) -> WsResponse {
        if let Err(problem) = self.builtin(action, incoming).await {
            self.tell(incoming.event, &incoming.endpoint, &problem).await;
        }
        WsResponse::ok()
    }

    async fn builtin(&self, action: Builtin, incoming: &Incoming<'_>) -> Result<(), String> {
        let field = |name: &str| incoming.json.as_ref().and_then(|j| j.get(name));
        let channel = || -> Result<&str, String> {
            let channel = field("channel")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("Bad request: {} needs a \"channel\" (1-128 characters)", action.name()))?;
            check_channel(channel).map_err(|p| format!("Bad request: {p}"))?;
            Ok(channel)
        };
        let data = || -> Result<Vec<u8>, String> {
            match field("data") {
                None | Some(Value::Null) => Err(format!("Bad request: {} needs \"data\"", action.name())),
                Some(Value::String(text)) => Ok(text.clone().into_bytes()),
                Some(other) => Ok(other.to_string().into_bytes()),
            }
        };
        let failed = |e: StoreError| {
            tracing::error!(connection = %incoming.connection.id, error = %e, "{} failed", action.name());
            "Internal server error".to_owned()
        };
        let stage = incoming.connection.stage.as_str();
        match action {
            Builtin::Subscribe => {
                let channel = channel()?;
                self.connections.subscribe(&incoming.connection, channel).await.map_err(failed)?;
                let ack = json!({ "action": "subscribed", "channel": channel }).to_string();
                self.reply(incoming, ack.as_bytes()).await;
            }
            Builtin::Unsubscribe => {
                let channel = channel()?;
                self.connections.unsubscribe(&incoming.connection.id, channel).await.map_err(failed)?;
                let ack = json!({ "action": "unsubscribed", "channel": channel }).to_string();
                self.reply(incoming, ack.as_bytes()).await;
            }
            Builtin::Publish => {
                let (channel, data) = (channel()?, data()?);
                let report =
                    self.fan_out(&incoming.endpoint).send(stage, Some(channel), &data).await.map_err(failed)?;
                tracing::debug!(?report, channel, "published");
            }
            Builtin::Broadcast => {
                let data = data()?;
                let report = self.fan_out(&incoming.endpoint).send(stage, None, &data).await.map_err(failed)?;
                tracing::debug!(?report, "broadcast");
            }
            Builtin::Send => {
                let target = field("connectionId")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty() && t.len() <= 128)
                    .ok_or_else(|| "Bad request: send needs a \"connectionId\"".to_owned())?;
                let data = data()?;
                match self.poster.post(&incoming.endpoint, target, &data).await {
                    Ok(()) => {}
                    Err(PostError::Gone) => {
                        self.fan_out(&incoming.endpoint).forget(target).await;
                        return Err(format!("Gone: connection {target} is not connected"));
                    }
                    Err(PostError::TooLarge(_)) => return Err("Payload too large".to_owned()),
                    Err(e) => {
                        tracing::warn!(target, error = %e, "send failed");
                        return Err("Internal server error".to_owned());
                    }
                }
            }
        }
        Ok(())
    }
}
