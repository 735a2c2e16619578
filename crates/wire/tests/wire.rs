//! Integration tests of mspic-wire: one test binary, its modules under `tests/wire/`.

mod wire {
    #[rustfmt::skip]
    mod frames;
    mod gen;
    mod naive;

    mod golden_parse;
    mod golden_rewrite;
    mod mss;
    mod props;
    mod replies;
}
