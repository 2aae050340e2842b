'use strict';

/**
 * A minimal event emitter: on, once, off and emit.
 */
class EventEmitter {
  constructor() {
    this.listeners = new Map();
  }

  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, []);
    this.listeners.get(name).push(fn);
    return this;
  }

  once(name, fn) {
    const wrapper = (...args) => {
      this.off(name, wrapper);
      fn.apply(this, args);
    };
    return this.on(name, wrapper);
  }

  off(name, fn) {
    const list = this.listeners.get(name) || [];
    this.listeners.set(name, list.filter((f) => f !== fn));
    return this;
  }

  emit(name, ...args) {
    const list = (this.listeners.get(name) || []).slice();
    list.forEach((fn) => fn.apply(this, args));
    return list.length > 0;
  }
}

module.exports = { EventEmitter };

if (require.main === module) {
  const bus = new EventEmitter();
  bus.once('ready', () => console.log('ready fired once'));
  bus.on('data', (chunk) => console.log(`got ${chunk.length} bytes`));
  bus.emit('ready');
  bus.emit('ready');
  bus.emit('data', Buffer.from('hello'));
}
