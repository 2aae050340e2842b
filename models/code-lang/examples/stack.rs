//! A bounded stack that reports overflow instead of growing.
use std::fmt;

#[derive(Debug, PartialEq)]
pub enum StackError {
    Full(usize),
    Empty,
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StackError::Full(cap) => write!(f, "stack is full (capacity {})", cap),
            StackError::Empty => write!(f, "stack is empty"),
        }
    }
}

pub struct BoundedStack<T> {
    items: Vec<T>,
    capacity: usize,
}

impl<T: Clone> BoundedStack<T> {
    pub fn new(capacity: usize) -> Self {
        Self { items: Vec::with_capacity(capacity), capacity }
    }

    pub fn push(&mut self, item: T) -> Result<(), StackError> {
        if self.items.len() == self.capacity {
            return Err(StackError::Full(self.capacity));
        }
        self.items.push(item);
        Ok(())
    }

    pub fn pop(&mut self) -> Result<T, StackError> {
        self.items.pop().ok_or(StackError::Empty)
    }

    pub fn peek(&self) -> Option<&T> {
        self.items.last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_is_reported() {
        let mut s = BoundedStack::new(1);
        assert!(s.push(1).is_ok());
        assert_eq!(s.push(2), Err(StackError::Full(1)));
        assert_eq!(s.pop(), Ok(1));
        assert_eq!(s.pop(), Err(StackError::Empty));
    }
}
