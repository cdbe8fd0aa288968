//! The `json` helpers (the tests turn the feature on through a dev-dependency on the
//! crate itself).

mod common;

use std::time::Duration;

use common::{server, within};
use futures::{stream, StreamExt};
use reorder_nats::{DispatchConfig, DispatchError, Dispatcher, Worker};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Order {
    id: u32,
    qty: u32,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Priced {
    id: u32,
    total: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_jobs_and_replies_in_order_with_codec_errors_in_position() {
    let server = server();
    within(30, async {
        let client = async_nats::connect(server.url()).await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let worker = Worker::new(client.clone(), "price", "pricers");
        let handle = tokio::spawn(worker.serve_json(
            |order: Order| async move {
                tokio::time::sleep(Duration::from_millis(u64::from(10 - order.id % 10))).await;
                if order.qty == 0 {
                    return Err("empty order");
                }
                Ok(Priced {
                    id: order.id,
                    total: u64::from(order.qty) * 3,
                })
            },
            async {
                let _ = stopped.await;
            },
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        client.flush().await.unwrap();

        let dispatcher = Dispatcher::new(client.clone(), "price").config(DispatchConfig::new(8));
        let orders = (0..20).map(|id| Order {
            id,
            qty: if id == 7 { 0 } else { id + 1 },
        });
        let results: Vec<Result<Priced, DispatchError>> = dispatcher
            .dispatch_json(stream::iter(orders))
            .collect()
            .await;
        for (id, result) in (0u32..).zip(&results) {
            match result {
                Ok(priced) => assert_eq!(
                    priced,
                    &Priced {
                        id,
                        total: u64::from(id + 1) * 3
                    }
                ),
                Err(DispatchError::Worker { seq: 7, message }) => {
                    assert_eq!(message, "empty order")
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(results.len(), 20);
        assert!(results[7].is_err());

        // A reply of the wrong shape, and a request the worker cannot decode.
        let wrong: Vec<Result<String, DispatchError>> = dispatcher
            .dispatch_json(stream::iter([Order { id: 1, qty: 1 }]))
            .collect()
            .await;
        assert!(
            matches!(&wrong[0], Err(DispatchError::Codec { seq: 0, .. })),
            "{wrong:?}"
        );
        let garbage: Vec<Result<Priced, DispatchError>> = dispatcher
            .dispatch_json(stream::iter(["not an order"]))
            .collect()
            .await;
        match &garbage[0] {
            Err(DispatchError::Worker { seq: 0, message }) => {
                assert!(message.contains("not the JSON expected"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // A job that does not encode is never sent.
        let before = dispatcher.stats().requests();
        let map_with_int_keys = std::collections::HashMap::from([((1, 2), 3)]);
        let unencodable: Vec<Result<Priced, DispatchError>> = dispatcher
            .dispatch_json(stream::iter([map_with_int_keys]))
            .collect()
            .await;
        assert!(matches!(
            &unencodable[0],
            Err(DispatchError::Codec { seq: 0, .. })
        ));
        assert_eq!(dispatcher.stats().requests(), before);

        stop.send(()).unwrap();
        let report = handle.await.unwrap().unwrap();
        assert_eq!(report.failed, 2);
    })
    .await;
}
