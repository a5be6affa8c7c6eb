//! A measuring instrument, not a filter: for every request it repeats one host call
//! [`REPEAT`] times, so that `scripts/bench` can compare Envoy's CPU time and its instructions
//! (counted under callgrind) per request against the `none` root and derive what one call of each
//! kind costs in the host (V8's C API crossing, Envoy's work and, for calls returning data, the
//! host's call into the module's allocator).
//!
//! The `root_id` names the call: `none`, `increment_metric`, `get_current_time`,
//! `get_header_absent`, `get_header` (the `authorization` header), `get_header_pairs`,
//! `get_property` (`request.path`), `replace_header`, `get_shared_data` (64 bytes),
//! `set_shared_data`, `set_property` (filter state). It uses the SDK directly (not the filter adapter) to measure the calls alone.

#[cfg(target_arch = "wasm32")]
mod module {
    use filter_core::proxy_wasm;
    use proxy_wasm::traits::{Context, HttpContext, RootContext};
    use proxy_wasm::types::{Action, ContextType, MetricType};

    /// Calls per request.
    pub const REPEAT: usize = 100;

    proxy_wasm::main! {{
        proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
            Box::new(Root { call: String::new(), metric: 0 })
        });
    }}

    struct Root {
        call: String,
        metric: u32,
    }

    impl Context for Root {}

    impl RootContext for Root {
        fn on_configure(&mut self, _: usize) -> bool {
            self.call = self
                .get_property(vec!["plugin_root_id"])
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            self.metric =
                proxy_wasm::hostcalls::define_metric(MetricType::Counter, "hostcall_cost_total")
                    .unwrap_or(0);
            self.set_shared_data("hostcall-cost", Some(&[7u8; 64]), None)
                .is_ok()
        }

        fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
            Some(Box::new(Stream {
                call: self.call.clone(),
                metric: self.metric,
                sink: 0,
            }))
        }

        fn get_type(&self) -> Option<ContextType> {
            Some(ContextType::HttpContext)
        }
    }

    struct Stream {
        call: String,
        metric: u32,
        /// Keeps results alive so no call is optimized away.
        sink: usize,
    }

    impl Context for Stream {}

    impl HttpContext for Stream {
        fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
            for _ in 0..REPEAT {
                self.sink += match self.call.as_str() {
                    "increment_metric" => {
                        usize::from(proxy_wasm::hostcalls::increment_metric(self.metric, 1).is_ok())
                    }
                    "get_current_time" => proxy_wasm::hostcalls::get_current_time()
                        .map_or(0, |t| usize::from(t > std::time::UNIX_EPOCH)),
                    "get_header_absent" => self
                        .get_http_request_header_bytes("x-hostcall-cost-absent")
                        .map_or(0, |v| v.len()),
                    "get_header" => self
                        .get_http_request_header_bytes("authorization")
                        .map_or(0, |v| v.len()),
                    "get_header_pairs" => self.get_http_request_headers_bytes().len(),
                    "get_property" => self
                        .get_property(vec!["request", "path"])
                        .map_or(0, |v| v.len()),
                    "replace_header" => {
                        self.set_http_request_header("x-hostcall-cost", Some("1"));
                        1
                    }
                    "get_shared_data" => self
                        .get_shared_data("hostcall-cost")
                        .0
                        .map_or(0, |v| v.len()),
                    "set_property" => {
                        self.set_property(vec!["hostcall_cost"], Some(b"1"));
                        1
                    }
                    "set_shared_data" => usize::from(
                        self.set_shared_data("hostcall-cost", Some(&[7u8; 64]), None)
                            .is_ok(),
                    ),
                    _ => 0,
                };
            }
            Action::Continue
        }
    }
}
