//! The conformance suite: every case runs under every strategy, against a real
//! `srvkit` process (or, for custom services, a server inside this process).
//!
//! Adding a strategy is one line in the `conformance!` table below; the test
//! names then read `<strategy>::<case>`, so a failure names its strategy.

mod bench;
mod cli;
mod echo;
mod http;
mod library;
mod limits;
mod load;
mod models;
mod util;

macro_rules! conformance {
    (strategies: [$($strategy:ident => $spec:expr,)*]; cases: $cases:tt $(;)?) => {
        $(
            mod $strategy {
                use crate::util::Spec;
                const SPEC: crate::util::Spec = $spec;
                conformance!(@cases $cases);
            }
        )*
    };
    (@cases [$($module:ident :: $case:ident,)*]) => {
        $(
            #[test]
            fn $case() {
                crate::$module::$case(&SPEC);
            }
        )*
    };
}

conformance! {
    strategies: [
        iterative => Spec::new("iterative").one_at_a_time(),
        fork => Spec::new("fork").separate_processes(),
        prefork => Spec::new("prefork").separate_processes(),
        thread => Spec::new("thread"),
        pool => Spec::new("pool").args(&["--workers", "8"]),
        nonblocking => Spec::new("nonblocking"),
        select => Spec::new("select"),
        poll => Spec::new("poll"),
        epoll => Spec::new("epoll"),
        epoll_edge => Spec::new("epoll").args(&["--edge"]),
        reactors => Spec::new("reactors"),
        async_smol => Spec::new("async"),
        tokio => Spec::new("tokio"),
        uring => Spec::new("uring"),
    ];
    cases: [
        echo::round_trip,
        echo::one_mebibyte,
        echo::two_hundred_clients,
        echo::half_close_gets_pending_echo,
        echo::reset_peers_do_not_hurt_others,
        limits::never_reading_client_is_bounded,
        limits::idle_connections_are_closed,
        limits::max_connections_queues_the_rest,
        limits::fd_exhaustion_backs_off,
        limits::sigterm_finishes_pending_reply_and_exits_zero,
        http::get_and_head_with_curl,
        http::errors_404_405_400_505,
        http::keep_alive_and_pipelining,
        http::range_request,
        http::traversal_is_refused,
        http::large_file_streams_intact,
        http::directory_listing_and_index,
        http::wrk_load_without_errors,
        http::browser_loads_page_and_image,
        library::shared_counter_across_50_connections,
        library::handler_panic_closes_only_its_connection,
        library::shutdown_handle_returns_promptly,
        library::generated_reply_streams_with_bounded_output,
    ];
}
