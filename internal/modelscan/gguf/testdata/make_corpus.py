#!/usr/bin/python3
"""Writes GGUF test files with struct (no gguf package needed): a valid
model with a real-world style chat template, template injections plain
and obfuscated, and header abuse."""
import struct

def s(x):
    b = x.encode() if isinstance(x, str) else x
    return struct.pack('<Q', len(b)) + b

def kv_str(k, v):
    return s(k) + struct.pack('<I', 8) + s(v)

def kv_u32(k, v):
    return s(k) + struct.pack('<I', 4) + struct.pack('<I', v)

def kv_arr_str(k, vs):
    return s(k) + struct.pack('<I', 9) + struct.pack('<IQ', 8, len(vs)) + b''.join(s(v) for v in vs)

def gguf(kvs, tensors=(('w', [4, 2], 0, 0),), version=3, data=None, align=32):
    """tensors: (name, dims, ggml type, offset)."""
    h = b'GGUF' + struct.pack('<IQQ', version, len(tensors), len(kvs)) + b''.join(kvs)
    for name, dims, typ, off in tensors:
        h += s(name) + struct.pack('<I', len(dims)) + b''.join(struct.pack('<Q', d) for d in dims) + struct.pack('<IQ', typ, off)
    h += b'\0' * ((align - len(h) % align) % align)
    if data is None:
        data = b'\0' * 32
    return h + data

BENIGN = ("{%- set ns = namespace(system='') -%}"
          "{%- for message in messages -%}"
          "{%- if message['role'] == 'system' -%}{%- set ns.system = message['content'] | trim -%}"
          "{%- elif message.role not in ['user', 'assistant'] -%}{{ raise_exception('Unknown role: ' ~ message.role) }}"
          "{%- else -%}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'].strip() + '<|im_end|>\\n' }}"
          "{%- endif -%}{%- if loop.last and message.content.startswith('/') %}{# a comment with __class__ #}{% endif -%}"
          "{%- endfor -%}{%- if add_generation_prompt is defined and add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif -%}"
          "{% raw %}{{ not jinja __class__ }}{% endraw %}{{ tools | tojson(indent=2) if tools is not none else '' }}")

def common(tpl):
    return [kv_str('general.architecture', 'llama'), kv_u32('general.alignment', 32),
            kv_arr_str('tokenizer.ggml.tokens', ['<s>', '</s>', 'a']), kv_str('tokenizer.chat_template', tpl)]

def save(name, b):
    open(name, 'wb').write(b)

save('valid.gguf', gguf(common(BENIGN)))
inj = {
    'inject_plain.gguf': "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    'inject_hex.gguf': "{{ ''['\\x5f\\x5fclass\\x5f\\x5f'] }}",
    'inject_unicode.gguf': "{{ ''['\\u005f\\u005fclass\\u005f\\u005f']['\\N{LOW LINE}\\N{LOW LINE}mro__'] }}",
    'inject_concat.gguf': "{{ ''|attr('__cla' ~ 'ss__') }}",
    'inject_join.gguf': "{% set a = ['__cla', 'ss__']|join %}{{ x|attr(a) }}",
    'inject_cycler.gguf': "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    'inject_lipsum.gguf': "{{ lipsum['__glo' + 'bals__']['os'] }}",
    'inject_underscores.gguf': "{% set u = '_' * 2 %}{{ x|attr(u ~ 'class' ~ u) }}",
    'inject_reversed.gguf': "{{ x|attr('__ssalc__'|reverse) }}",
    'inject_octal.gguf': "{{ x['\\137\\137class\\137\\137'] }}",
    'inject_named_template.gguf': None,
    'suspicious_method.gguf': "{{ messages.pop() }}{{ '%s'|format(1) }}",
}
for name, tpl in inj.items():
    if tpl is None:
        kvs = common(BENIGN) + [kv_str('tokenizer.chat_template.tool_use', "{{ self.__init__.__globals__ }}")]
    else:
        kvs = common(tpl)
    save(name, gguf(kvs))

save('bad_version.gguf', gguf(common(BENIGN), version=1))
save('huge_count.gguf', b'GGUF' + struct.pack('<IQQ', 3, 1 << 40, 1 << 40))
save('truncated.gguf', gguf(common(BENIGN))[:200])
save('out_of_file.gguf', gguf(common(BENIGN), tensors=(('w', [4096, 4096], 0, 0),)))
save('bad_dims.gguf', gguf(common(BENIGN), tensors=(('w', [1, 1, 1, 1, 1], 0, 0),)))
save('huge_array.gguf', b'GGUF' + struct.pack('<IQQ', 3, 0, 1) + s('a') + struct.pack('<IIQ', 9, 0, 1 << 60))
