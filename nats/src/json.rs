//! JSON on the wire (feature `json`): serde values in, serde values out.

use std::fmt;
use std::future::Future;

use bytes::Bytes;
use futures_util::future::ready;
use futures_util::stream::Stream;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::dispatch::{DispatchOrdered, Dispatcher};
use crate::error::DispatchError;
use crate::worker::{Job, Worker, WorkerReport};

impl Dispatcher {
    /// Like [`dispatch`](Self::dispatch), with each job encoded as JSON and each reply
    /// decoded from JSON into `R`. A job that does not encode, or a reply that does not
    /// decode, is [`DispatchError::Codec`] in its position (a job that does not encode
    /// is never sent).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use futures::{stream, TryStreamExt};
    /// use reorder_nats::Dispatcher;
    ///
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
    /// let squares: Vec<u64> = Dispatcher::new(client, "square")
    ///     .dispatch_json::<_, u64>(stream::iter([1u64, 2, 3]))
    ///     .try_collect()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn dispatch_json<S, R>(&self, jobs: S) -> DispatchOrdered<S, R>
    where
        S: Stream,
        S::Item: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        DispatchOrdered::with_job(
            self.clone(),
            jobs,
            |this, seq, job| match serde_json::to_vec(&job) {
                Ok(payload) => Box::pin(async move {
                    let reply = this.run(seq, Bytes::from(payload)).await?;
                    serde_json::from_slice(&reply).map_err(|e| DispatchError::Codec {
                        seq,
                        reason: format!("the reply is not the JSON expected: {e}"),
                    })
                }),
                Err(e) => Box::pin(ready(Err(DispatchError::Codec {
                    seq,
                    reason: format!("the job does not encode as JSON: {e}"),
                }))),
            },
        )
    }
}

impl Worker {
    /// Like [`serve`](Self::serve), with each request decoded from JSON into `Req` and
    /// the handler's output encoded as JSON. A request that does not decode is answered
    /// with an error ([`DispatchError::Worker`] on the dispatcher's side), as is an
    /// output that does not encode.
    ///
    /// # Errors
    ///
    /// As for [`serve`](Self::serve).
    pub async fn serve_json<F, Fut, Req, Resp, E>(
        self,
        handler: F,
        shutdown: impl Future<Output = ()>,
    ) -> Result<WorkerReport, async_nats::Error>
    where
        F: Fn(Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, E>> + Send + 'static,
        Req: DeserializeOwned,
        Resp: Serialize,
        E: fmt::Display,
    {
        let handler = move |job: Job| {
            let request = serde_json::from_slice::<Req>(job.payload())
                .map_err(|e| format!("the request is not the JSON expected: {e}"))
                .map(&handler);
            async move {
                let output = request?.await.map_err(|e| e.to_string())?;
                serde_json::to_vec(&output)
                    .map(Bytes::from)
                    .map_err(|e| format!("the output does not encode as JSON: {e}"))
            }
        };
        self.serve(handler, shutdown).await
    }
}
