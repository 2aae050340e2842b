package example.store;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/** Keeps item counts and refuses to go below zero. */
public final class Inventory {
    private final Map<String, Integer> counts = new HashMap<>();

    public void add(String item, int quantity) {
        if (quantity <= 0) {
            throw new IllegalArgumentException("quantity must be positive: " + quantity);
        }
        counts.merge(item, quantity, Integer::sum);
    }

    public boolean remove(String item, int quantity) {
        int have = counts.getOrDefault(item, 0);
        if (have < quantity) {
            return false;
        }
        if (have == quantity) {
            counts.remove(item);
        } else {
            counts.put(item, have - quantity);
        }
        return true;
    }

    public Optional<Integer> count(String item) {
        return Optional.ofNullable(counts.get(item));
    }

    public static void main(String[] args) {
        Inventory inventory = new Inventory();
        inventory.add("apple", 3);
        System.out.println(inventory.remove("apple", 2));
        System.out.println(inventory.count("apple").orElse(0));
    }
}
