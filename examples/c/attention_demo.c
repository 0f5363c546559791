/* attention_demo — one additive attention on the CPU through the installed
 * seqattn package (find_package(seqattn) or pkg-config).
 *
 * A batch of two source sentences (the second one has only 3 of its 4 steps
 * valid) attended by 2 decoder steps each; prints the context vectors, the
 * attention weights and the sum of each weight row (1 for every valid row). */
#include <math.h>
#include <seqattn/seqattn.h>
#include <stdio.h>
#include <stdlib.h>

enum { B = 2, TE = 4, TD = 2, HE = 3, HD = 2, A = 3 };

static int check(seqattn_status status, const char* what) {
  if (status == SEQATTN_OK) return 0;
  fprintf(stderr, "%s failed: %s: %s\n", what, seqattn_status_string(status), seqattn_last_error());
  return 1;
}

int main(void) {
  float encoder_out[B * TE * HE]; /* [B, Te, He] */
  float decoder_out[B * TD * HD]; /* [B, Td, Hd] */
  const float W[HE * A] = {0.5f, -0.3f, 0.8f, 0.1f, 0.4f, -0.6f, -0.2f, 0.7f, 0.3f}; /* [He, A] */
  const float U[HD * A] = {0.6f, -0.1f, 0.2f, -0.5f, 0.3f, 0.9f};                    /* [Hd, A] */
  const float v[A] = {1.0f, -0.5f, 0.25f};
  const int32_t enc_lengths[B] = {4, 3};
  const seqattn_attention_dims dims = {B, TE, TD, HE, HD, A};
  float context[B * TD * HE]; /* [B, Td, He] */
  float weights[B * TD * TE]; /* [B, Td, Te] */
  seqattn_handle_options options;
  seqattn_handle handle = NULL;
  int i, b, t, k;

  for (i = 0; i < B * TE * HE; ++i) encoder_out[i] = sinf(0.7f * (float)i);
  for (i = 0; i < B * TD * HD; ++i) decoder_out[i] = cosf(1.3f * (float)i);

  printf("seqattn %u.%u.%u\n", (unsigned)(seqattn_version() / 10000),
         (unsigned)(seqattn_version() / 100 % 100), (unsigned)(seqattn_version() % 100));
  seqattn_handle_options_init(&options); /* CPU, precise math */
  if (check(seqattn_handle_create(&options, &handle), "seqattn_handle_create")) return 1;
  if (check(seqattn_additive_attention_forward(handle, &dims, encoder_out, decoder_out,
                                               enc_lengths, NULL, W, U, NULL, v, context, weights),
            "seqattn_additive_attention_forward")) {
    seqattn_handle_destroy(handle);
    return 1;
  }
  seqattn_handle_destroy(handle);

  for (b = 0; b < B; ++b)
    for (t = 0; t < TD; ++t) {
      printf("b=%d t=%d context:", b, t);
      for (k = 0; k < HE; ++k) printf(" %9.6f", context[(b * TD + t) * HE + k]);
      printf("   weights:");
      for (k = 0; k < TE; ++k) printf(" %8.6f", weights[(b * TD + t) * TE + k]);
      printf("\n");
    }
  printf("weights row sums:");
  for (i = 0; i < B * TD; ++i) {
    double sum = 0.0;
    for (k = 0; k < TE; ++k) sum += weights[i * TE + k];
    printf(" %.6f", sum);
  }
  printf("\n");
  return 0;
}
