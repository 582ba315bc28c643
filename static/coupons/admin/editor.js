/* The coupon template editor: shows the fields of the chosen type, rule and audience; adds, removes
   and reorders usage-rule rows; shows what a 折 entry means. Plain JavaScript, no build step. */
'use strict';
(function () {
  function showOnly(nodes, wanted, attribute) {
    nodes.forEach(function (node) {
      node.hidden = node.getAttribute(attribute) !== wanted;
    });
  }

  function syncType() {
    var select = document.getElementById('id_type');
    if (!select) { return; }
    document.querySelectorAll('fieldset.coupon-value').forEach(function (fieldset) {
      fieldset.hidden = !fieldset.classList.contains('coupon-value-' + select.value);
    });
  }

  var TARGET_FIELDS = {
    NEW_USER: 'target_days', MEMBER_LEVELS: 'target_levels', TAGS: 'target_tags', USER_TYPE: 'target_user_type'
  };

  function syncTarget() {
    var select = document.getElementById('id_target_type');
    if (!select) { return; }
    Object.keys(TARGET_FIELDS).forEach(function (kind) {
      document.querySelectorAll('.form-row.field-' + TARGET_FIELDS[kind]).forEach(function (row) {
        row.hidden = select.value !== kind;
      });
    });
  }

  function syncRule(row) {
    var select = row.querySelector('select.rule-type');
    showOnly(row.querySelectorAll('.rule-param'), select ? select.value : '', 'data-rule-type');
    var remove = row.querySelector('.rule-delete input');
    row.classList.toggle('rule-removed', Boolean(remove && remove.checked));
  }

  function renumber(container) {
    container.querySelectorAll('.rule-row').forEach(function (row, index) {
      var order = row.querySelector('input[name$="-ORDER"]');
      if (order) { order.value = String(index + 1); }
    });
  }

  function zheMeaning(input) {
    var span = document.getElementById(input.id + '_meaning');
    if (!span) { return; }
    var zhe = parseFloat(input.value);
    if (input.value === '' || isNaN(zhe) || zhe < 0 || zhe >= 10) {
      span.textContent = '';
      return;
    }
    var off = Math.round((100 - zhe * 10) * 100) / 100;
    span.textContent = (span.dataset.template || '= %(percent)s % off').replace('%(percent)s', String(off)).replace('%%', '%');
  }

  function setUpRules() {
    var block = document.getElementById('usage-rules');
    if (!block) { return; }
    var prefix = block.dataset.prefix;
    var container = document.getElementById('rule-rows');
    var total = document.getElementById('id_' + prefix + '-TOTAL_FORMS');
    var template = document.getElementById('rule-row-template');

    container.querySelectorAll('.rule-row').forEach(syncRule);
    renumber(container);

    document.getElementById('add-rule').addEventListener('click', function () {
      var index = parseInt(total.value, 10);
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      var holder = document.createElement('div');
      holder.innerHTML = html.trim();
      var row = holder.firstElementChild;
      container.appendChild(row);
      total.value = String(index + 1);
      renumber(container);
      syncRule(row);
      row.dispatchEvent(new CustomEvent('formset:added', { bubbles: true, detail: { formsetName: prefix } }));
    });

    container.addEventListener('change', function (event) {
      var row = event.target.closest('.rule-row');
      if (row) { syncRule(row); }
    });

    container.addEventListener('click', function (event) {
      var button = event.target.closest('button');
      if (!button) { return; }
      var row = button.closest('.rule-row');
      if (button.classList.contains('rule-up') && row.previousElementSibling) {
        container.insertBefore(row, row.previousElementSibling);
      } else if (button.classList.contains('rule-down') && row.nextElementSibling) {
        container.insertBefore(row.nextElementSibling, row);
      }
      renumber(container);
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    syncType();
    syncTarget();
    setUpRules();
    var type = document.getElementById('id_type');
    if (type) { type.addEventListener('change', syncType); }
    var target = document.getElementById('id_target_type');
    if (target) { target.addEventListener('change', syncTarget); }
    document.addEventListener('input', function (event) {
      if (event.target.classList && event.target.classList.contains('zhe-input')) { zheMeaning(event.target); }
    });
    document.querySelectorAll('.zhe-input').forEach(zheMeaning);
  });
})();
