// Draws the overview's charts with TradingView's lightweight-charts (served from node_modules).
// Prices are drawn as floats: the tables beside the charts show the exact figures.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('chart-data').textContent);
  var LC = window.LightweightCharts;
  var seconds = function (iso) { return Math.floor(Date.parse(iso) / 1000); };
  var options = function (el) {
    return { width: el.clientWidth, height: 260, layout: { background: { color: '#ffffff' }, textColor: '#1f2933' }, timeScale: { timeVisible: true }, grid: { vertLines: { color: '#eef1f4' }, horzLines: { color: '#eef1f4' } } };
  };

  var indexEl = document.getElementById('index-chart');
  var withHistory = data.indexes.filter(function (x) { return x.history.length > 0; });
  if (indexEl && withHistory.length > 0) {
    var indexChart = LC.createChart(indexEl, options(indexEl));
    var colors = ['#2563eb', '#db2777', '#059669', '#d97706'];
    withHistory.forEach(function (x, i) {
      var line = indexChart.addSeries(LC.LineSeries, { color: colors[i % colors.length], lineWidth: 2, title: x.modelClass });
      line.setData(x.history.map(function (p) { return { time: seconds(p.time), value: Number(p.price) }; }));
    });
    indexChart.timeScale().fitContent();
    indexEl.dataset.drawn = 'true';
  } else if (indexEl) {
    indexEl.textContent = 'No spot trades in the last 48 hours.';
  }

  var candleEl = document.getElementById('candle-chart');
  if (candleEl && data.chart && data.chart.candles.length > 0) {
    var chart = LC.createChart(candleEl, options(candleEl));
    var candles = chart.addSeries(LC.CandlestickSeries, { upColor: '#059669', downColor: '#dc2626', borderVisible: false, wickUpColor: '#059669', wickDownColor: '#dc2626' });
    candles.setData(data.chart.candles.map(function (c) {
      return { time: seconds(c.time), open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close) };
    }));
    var volume = chart.addSeries(LC.HistogramSeries, { color: '#94a3b8', priceFormat: { type: 'volume' }, priceScaleId: '' });
    volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    volume.setData(data.chart.candles.map(function (c) { return { time: seconds(c.time), value: c.volume }; }));
    chart.timeScale().fitContent();
    candleEl.dataset.drawn = 'true';
  } else if (candleEl) {
    candleEl.textContent = 'No trades in this window.';
  }
})();
