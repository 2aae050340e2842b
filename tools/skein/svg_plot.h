// Small SVG line charts for the CLI tools: panels side by side, linear or log
// axes with readable ticks, several series with a shared legend, optional
// error bars. The output is a standalone, well-formed SVG document.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace skein::cli {

enum class AxisScale { kLinear, kLog };

struct Tick {
  double value = 0;
  std::string label;
};

/// Ticks for an axis showing [lo, hi] (lo <= hi; both > 0 for a log axis),
/// at most about `max_ticks` of them, all inside [lo, hi], at least two unless
/// lo == hi. Linear: multiples of 1, 2, 2.5 or 5 × 10^k. Log: powers of two
/// when `binary` (labels 1K = 1024, 1M = 2^20), else 1, 2, 5 × 10^k or powers
/// of ten (every m-th one on wide ranges); linear ticks where those give
/// fewer than three.
std::vector<Tick> axis_ticks(double lo, double hi, AxisScale scale, int max_ticks, bool binary);

/// Short label of a tick value: 3 significant digits, k/M/G suffixes from 10^4
/// up ("20k", "1.5M"), plain small numbers ("0.05", "1e-5").
std::string format_tick(double value);

/// `text` with & < > " ' escaped and XML-invalid control characters replaced by '?'.
std::string xml_escape(std::string_view text);

struct Series {
  std::string name;       // legend entry; series with the same name share a colour
  std::vector<double> x;  // points, drawn in the given order
  std::vector<double> y;
  std::vector<double> err;  // optional ± error bar per point (empty = none)
};

struct Axis {
  std::string label;
  AxisScale scale = AxisScale::kLinear;
  bool binary = false;  // log ticks at powers of two (sequence lengths, feature counts)
};

struct Panel {
  std::string title;
  Axis x;
  Axis y;
  std::vector<Series> series;
};

/// The SVG document: `title` over the panels in one row, one legend on the
/// right listing every series name once. Points that a log axis cannot show
/// (<= 0) or that are not finite are left out, and lines break there.
std::string render_svg(const std::string& title, const std::vector<Panel>& panels);

/// Writes render_svg() to `path`; throws skein::Error naming the path on failure.
void write_svg(const std::string& path, const std::string& title, const std::vector<Panel>& panels);

}  // namespace skein::cli
