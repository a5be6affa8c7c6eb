//! Raw imports from `env` and `wasi_snapshot_preview1`.

#[link(wasm_import_module = "env")]
extern "C" {
    pub fn proxy_log(level: u32, p: *const u8, n: usize) -> u32;
    pub fn proxy_get_log_level(l: *mut u32) -> u32;
    pub fn proxy_get_current_time_nanoseconds(t: *mut u64) -> u32;
    pub fn proxy_set_tick_period_milliseconds(ms: u32) -> u32;
    pub fn proxy_get_header_map_value(
        t: u32,
        kp: *const u8,
        kn: usize,
        vp: *mut *mut u8,
        vn: *mut usize,
    ) -> u32;
    pub fn proxy_get_header_map_pairs(t: u32, vp: *mut *mut u8, vn: *mut usize) -> u32;
    pub fn proxy_set_header_map_pairs(t: u32, p: *const u8, n: usize) -> u32;
    pub fn proxy_get_header_map_size(t: u32, n: *mut u32) -> u32;
    pub fn proxy_add_header_map_value(
        t: u32,
        kp: *const u8,
        kn: usize,
        vp: *const u8,
        vn: usize,
    ) -> u32;
    pub fn proxy_replace_header_map_value(
        t: u32,
        kp: *const u8,
        kn: usize,
        vp: *const u8,
        vn: usize,
    ) -> u32;
    pub fn proxy_remove_header_map_value(t: u32, kp: *const u8, kn: usize) -> u32;
    pub fn proxy_get_buffer_bytes(
        t: u32,
        start: usize,
        max: usize,
        vp: *mut *mut u8,
        vn: *mut usize,
    ) -> u32;
    pub fn proxy_get_buffer_status(t: u32, n: *mut usize, flags: *mut u32) -> u32;
    pub fn proxy_set_buffer_bytes(t: u32, start: usize, size: usize, p: *const u8, n: usize)
        -> u32;
    pub fn proxy_http_call(
        up: *const u8,
        un: usize,
        hp: *const u8,
        hn: usize,
        bp: *const u8,
        bn: usize,
        tp: *const u8,
        tn: usize,
        timeout: u32,
        tok: *mut u32,
    ) -> u32;
    pub fn proxy_grpc_call(
        up: *const u8,
        un: usize,
        sp: *const u8,
        sn: usize,
        mp: *const u8,
        mn: usize,
        mdp: *const u8,
        mdn: usize,
        msgp: *const u8,
        msgn: usize,
        timeout: u32,
        tok: *mut u32,
    ) -> u32;
    pub fn proxy_grpc_stream(
        up: *const u8,
        un: usize,
        sp: *const u8,
        sn: usize,
        mp: *const u8,
        mn: usize,
        mdp: *const u8,
        mdn: usize,
        tok: *mut u32,
    ) -> u32;
    pub fn proxy_grpc_send(tok: u32, p: *const u8, n: usize, end: u32) -> u32;
    pub fn proxy_grpc_cancel(tok: u32) -> u32;
    pub fn proxy_grpc_close(tok: u32) -> u32;
    pub fn proxy_define_metric(t: u32, np: *const u8, nn: usize, id: *mut u32) -> u32;
    pub fn proxy_increment_metric(id: u32, off: i64) -> u32;
    pub fn proxy_record_metric(id: u32, v: u64) -> u32;
    pub fn proxy_get_metric(id: u32, v: *mut u64) -> u32;
    pub fn proxy_get_shared_data(
        kp: *const u8,
        kn: usize,
        vp: *mut *mut u8,
        vn: *mut usize,
        cas: *mut u32,
    ) -> u32;
    pub fn proxy_set_shared_data(
        kp: *const u8,
        kn: usize,
        vp: *const u8,
        vn: usize,
        cas: u32,
    ) -> u32;
    pub fn proxy_register_shared_queue(np: *const u8, nn: usize, id: *mut u32) -> u32;
    pub fn proxy_resolve_shared_queue(
        vp: *const u8,
        vn: usize,
        np: *const u8,
        nn: usize,
        id: *mut u32,
    ) -> u32;
    pub fn proxy_enqueue_shared_queue(id: u32, vp: *const u8, vn: usize) -> u32;
    pub fn proxy_dequeue_shared_queue(id: u32, vp: *mut *mut u8, vn: *mut usize) -> u32;
    pub fn proxy_get_property(pp: *const u8, pn: usize, vp: *mut *mut u8, vn: *mut usize) -> u32;
    pub fn proxy_set_property(pp: *const u8, pn: usize, vp: *const u8, vn: usize) -> u32;
    pub fn proxy_call_foreign_function(
        np: *const u8,
        nn: usize,
        ap: *const u8,
        an: usize,
        rp: *mut *mut u8,
        rn: *mut usize,
    ) -> u32;
    pub fn proxy_set_effective_context(id: u32) -> u32;
    pub fn proxy_continue_stream(t: u32) -> u32;
    pub fn proxy_close_stream(t: u32) -> u32;
    pub fn proxy_send_local_response(
        code: u32,
        dp: *const u8,
        dn: usize,
        bp: *const u8,
        bn: usize,
        hp: *const u8,
        hn: usize,
        grpc: i32,
    ) -> u32;
    pub fn proxy_get_status(code: *mut u32, mp: *mut *mut u8, mn: *mut usize) -> u32;
    pub fn proxy_done() -> u32;
    pub fn proxy_clear_route_cache() -> u32;
    pub fn proxy_get_configuration(vp: *mut *mut u8, vn: *mut usize) -> u32;
    pub fn proxy_continue_request() -> u32;
    pub fn proxy_continue_response() -> u32;
}

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    pub fn fd_write(fd: u32, iovs: *const u32, n: usize, written: *mut usize) -> u32;
    pub fn clock_time_get(id: u32, precision: u64, t: *mut u64) -> u32;
    pub fn random_get(p: *mut u8, n: usize) -> u32;
    pub fn environ_sizes_get(n: *mut usize, size: *mut usize) -> u32;
    pub fn poll_oneoff(input: *const u8, out: *mut u8, n: usize, events: *mut usize) -> u32;
    pub fn proc_exit(code: u32) -> !;
}
