// A small dense row-major matrix with bounds-checked access.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace example {

template <typename T>
class Matrix {
 public:
  Matrix(std::size_t rows, std::size_t cols, T value = T{})
      : rows_(rows), cols_(cols), data_(rows * cols, value) {}

  T& at(std::size_t r, std::size_t c) {
    check(r, c);
    return data_[r * cols_ + c];
  }
  const T& at(std::size_t r, std::size_t c) const {
    check(r, c);
    return data_[r * cols_ + c];
  }

  std::size_t rows() const noexcept { return rows_; }
  std::size_t cols() const noexcept { return cols_; }

  Matrix operator*(const Matrix& other) const {
    if (cols_ != other.rows_) throw std::invalid_argument("shape mismatch");
    Matrix out(rows_, other.cols_);
    for (std::size_t i = 0; i < rows_; ++i)
      for (std::size_t k = 0; k < cols_; ++k)
        for (std::size_t j = 0; j < other.cols_; ++j)
          out.data_[i * out.cols_ + j] += data_[i * cols_ + k] * other.data_[k * other.cols_ + j];
    return out;
  }

 private:
  void check(std::size_t r, std::size_t c) const {
    if (r >= rows_ || c >= cols_)
      throw std::out_of_range("index (" + std::to_string(r) + ", " + std::to_string(c) + ")");
  }

  std::size_t rows_, cols_;
  std::vector<T> data_;
};

}  // namespace example
