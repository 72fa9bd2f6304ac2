// simdjson (Debian's libsimdjson-dev) on the list body benches/lists.rs writes: the fastest
// validating JSON reader there is, as the floor the list scanner is held against. Prints the
// best of 20 rounds of 100 parses, in microseconds, for the kernel simdjson picked (set
// SIMDJSON_FORCE_IMPLEMENTATION to choose one), for a DOM parse (the whole document checked)
// and for an on-demand walk that reads each item's "package" (what it skips is not checked).
//
//   g++ -O3 -std=c++17 benches/lists_simdjson.cpp -lsimdjson -o target/lists-simdjson
//   target/lists-simdjson BODY.json
#include <simdjson.h>
#include <chrono>
#include <cstdio>
#include <string_view>

using namespace simdjson;

template <class F> static double best_us(F f) {
  for (int i = 0; i < 200; i++) f();
  double best = 1e9;
  for (int round = 0; round < 20; round++) {
    auto t = std::chrono::steady_clock::now();
    for (int i = 0; i < 100; i++) f();
    double d = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count() / 100;
    if (d < best) best = d;
  }
  return best * 1e6;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s BODY.json\n", argv[0]);
    return 2;
  }
  padded_string json;
  if (padded_string::load(argv[1]).get(json)) {
    fprintf(stderr, "%s: cannot read\n", argv[1]);
    return 2;
  }
  dom::parser dom;
  ondemand::parser od;
  bool bad = false;
  double parse = best_us([&] { bad |= dom.parse(json).error() != SUCCESS; });
  size_t ids = 0;
  double walk = best_us([&] {
    ids = 0;
    auto doc = od.iterate(json);
    for (auto item : doc["results"].get_array()) {
      std::string_view id;
      bad |= item["package"].get_string().get(id) != SUCCESS;
      ids++;
    }
  });
  if (bad || ids == 0) {
    fprintf(stderr, "%s: simdjson refused the body\n", argv[1]);
    return 1;
  }
  printf("simdjson %-9s dom parse %7.1f us   on-demand ids walk %7.1f us   (%zu items)\n",
         get_active_implementation()->name().c_str(), parse, walk, ids);
  return 0;
}
