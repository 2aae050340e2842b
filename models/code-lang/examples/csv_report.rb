# frozen_string_literal: true

require 'csv'

# Totals a CSV of expenses by category and prints them largest first.
class ExpenseReport
  Row = Struct.new(:category, :amount)

  def initialize(path)
    @rows = CSV.foreach(path, headers: true).map do |r|
      Row.new(r['category'], r['amount'].to_f)
    end
  end

  def totals
    @rows.group_by(&:category)
         .transform_values { |rows| rows.sum(&:amount) }
         .sort_by { |_, total| -total }
  end

  def to_s
    totals.map { |category, total| format('%-12s %10.2f', category, total) }.join("\n")
  end
end

puts ExpenseReport.new(ARGV.fetch(0)) if $PROGRAM_NAME == __FILE__
