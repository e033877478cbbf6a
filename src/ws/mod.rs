//! The one websocket layer: connecting through the client's network setup (TLS, roots,
//! proxy) with a time limit. Each flow speaks its own protocol on top.

use std::time::Duration;

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::WebSocketStream;
use url::Url;

use crate::error::Error;
use crate::net::{NetStream, Network};

/// An open websocket.
pub(crate) type Socket = WebSocketStream<NetStream>;

/// Opens a websocket to `url`: TCP (through the proxy if one applies), TLS for `wss`, and
/// the HTTP upgrade, all within `timeout`. `endpoint` names the socket in errors (never the
/// URL, which can carry ids).
pub(crate) async fn connect(
    network: &Network,
    endpoint: &'static str,
    url: &Url,
    headers: &[(HeaderName, HeaderValue)],
    timeout: Duration,
) -> Result<Socket, Error> {
    let fail = |message: String| Error::websocket(endpoint, message, false);
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| fail(format!("invalid websocket request: {e}")))?;
    for (name, value) in headers {
        request.headers_mut().insert(name.clone(), value.clone());
    }
    let open = async {
        let stream = network
            .connect(url)
            .await
            .map_err(|e| fail(format!("could not connect: {e}")))?;
        let (socket, _response) = tokio_tungstenite::client_async(request, stream)
            .await
            .map_err(|e| fail(format!("the websocket handshake failed: {e}")))?;
        Ok(socket)
    };
    match tokio::time::timeout(timeout, open).await {
        Ok(result) => result,
        Err(_) => Err(fail(format!(
            "no connection within {timeout:?} (connect, TLS and upgrade)"
        ))),
    }
}
