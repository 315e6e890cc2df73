// bench_llmc times llm.c's CPU training step (GPT-2 124M, B = 4, T = 64,
// forward + zero_grad + backward + AdamW update, as llm.c's own main loop
// does) on random weights and tokens, for `hut bench`'s peer table. It is
// our driver; llm.c itself is not in this repository: tools/llmc/run.sh
// builds this file against the train_gpt2.c of an llm.c checkout you
// provide (the April 2024 CPU reference, checkpoint format version 1).
//
//	tools/llmc/run.sh /path/to/llm.c [steps]
#define TESTING
#include "train_gpt2.c"

static unsigned long long rng = 88172645463325252ull;

static float uniform(void) { // xorshift64, in [-1, 1)
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) / 8388608.0 - 1.0);
}

static int cmp(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

int main(int argc, char** argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 10;
    const char* path = argc > 2 ? argv[2] : "/tmp/bench_llmc_124M.bin";
    int maxT = 1024, V = 50257, L = 12, NH = 12, C = 768, B = 4, T = 64;
    if (steps < 1) { fprintf(stderr, "bench_llmc: steps must be >= 1\n"); return 2; }

    // A random GPT-2 124M checkpoint in llm.c's format (header version 1):
    // weights uniform in [-0.035, 0.035) (std 0.02), layer-norm gains 1.
    FILE* f = fopen(path, "wb");
    if (f == NULL) { fprintf(stderr, "bench_llmc: cannot write %s\n", path); return 1; }
    int header[256] = {20240326, 1, maxT, V, L, NH, C};
    fwrite(header, sizeof(int), 256, f);
    size_t sizes[16] = {
        (size_t)V * C, (size_t)maxT * C, (size_t)L * C, (size_t)L * C,
        (size_t)L * 3 * C * C, (size_t)L * 3 * C, (size_t)L * C * C, (size_t)L * C,
        (size_t)L * C, (size_t)L * C, (size_t)L * 4 * C * C, (size_t)L * 4 * C,
        (size_t)L * C * 4 * C, (size_t)L * C, (size_t)C, (size_t)C};
    float buf[4096];
    for (int t = 0; t < 16; t++) {
        int gain = t == 2 || t == 8 || t == 14; // ln1w, ln2w, lnfw
        for (size_t done = 0; done < sizes[t];) {
            size_t n = sizes[t] - done < 4096 ? sizes[t] - done : 4096;
            for (size_t i = 0; i < n; i++) { buf[i] = gain ? 1.0f : 0.035f * uniform(); }
            fwrite(buf, sizeof(float), n, f);
            done += n;
        }
    }
    fclose(f);

    GPT2 model;
    gpt2_build_from_checkpoint(&model, path);
    remove(path);
    int* tokens = (int*)malloc((B * T + 1) * sizeof(int));
    for (int i = 0; i < B * T + 1; i++) { tokens[i] = (int)((uniform() + 1) * 0.5 * V) % V; }

    double* took = (double*)malloc(steps * sizeof(double));
    for (int step = 0; step <= steps; step++) { // step 0 warms up (allocates)
        struct timespec start, end;
        clock_gettime(CLOCK_MONOTONIC, &start);
        gpt2_forward(&model, tokens, tokens + 1, B, T);
        gpt2_zero_grad(&model);
        gpt2_backward(&model);
        gpt2_update(&model, 1e-4f, 0.9f, 0.999f, 1e-8f, 0.0f, step + 1);
        clock_gettime(CLOCK_MONOTONIC, &end);
        double s = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
        fprintf(stderr, "step %d: loss %f, %.3f s\n", step, model.mean_loss, s);
        if (step > 0) { took[step - 1] = s; }
    }
    qsort(took, steps, sizeof(double), cmp);
    int threads = 1;
#ifdef OMP
    threads = omp_get_max_threads();
#endif
    printf("{\"bench\":\"llmc_step\",\"B\":%d,\"T\":%d,\"steps\":%d,\"threads\":%d,\"step_s\":%.4f,\"min_s\":%.4f}\n",
           B, T, steps, threads, took[steps / 2], took[0]);
    gpt2_free(&model);
    free(tokens);
    free(took);
    return 0;
}
